"""TCP: whether a ``host:port`` accepts connections (the closed-port check of the health area and
the firewall review of the security area). Each probe opens one connection, bounded by the
caller's connect timeout (``security.port_timeout_seconds``), and closes it at once.
"""

from __future__ import annotations

import socket


def parse_host_port(spec: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``.

    >>> parse_host_port("[::1]:22"), parse_host_port("db:5432")
    (('::1', 22), ('db', 5432))
    """
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"security.closed_ports: {spec!r} is not host:port")
    return host.strip("[]"), int(port)


def probe_port(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """(accepts connections, how it answered) within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, "connected"
    except TimeoutError:
        return False, "timed out (filtered)"
    except ConnectionRefusedError:
        return False, "connection refused"
    except OSError as exc:
        return False, f"{type(exc).__name__}: {exc.strerror or exc}"
