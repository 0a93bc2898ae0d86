"""TCP: whether a ``host:port`` accepts connections (the closed-port check of the health area and
the firewall review of the security area), and the certificate a TLS server presents (the
health area's certificate checks). Each probe opens one connection, bounded by the caller's
timeout (``security.port_timeout_seconds``, the HTTP target's ``timeout_seconds``) for the
connect and every read of the handshake, and closes it at once.
"""

from __future__ import annotations

import socket
import ssl


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


def peer_certificate(host: str, port: int, context: ssl.SSLContext, timeout: float) -> bytes:
    """The DER certificate the TLS server at ``host:port`` presents under ``context`` (which decides
    whether it must verify; :class:`ssl.SSLCertVerificationError` when it must and does not)."""
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der
