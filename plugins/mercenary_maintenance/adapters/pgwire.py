"""The PostgreSQL liveness probe in a few bytes of the wire protocol (v3): connect, authenticate
(trust, password, md5 or SCRAM-SHA-256), ``SELECT 1``, terminate.

``alert_evaluation`` probes every PostgreSQL target every 5 minutes; importing psycopg costs a fresh
task process more than the rest of the run, and a ``psql`` process about 40 ms of CPU. This answers
the same question with the standard library. It takes libpq's environment (:func:`.postgres.program_env`)
and says :class:`Unsupported` for what it does not do — TLS asked for (``PGSSLMODE`` other than
``disable``), another authentication method, or the server refusing the session during start-up — so the
caller asks ``psql`` instead (the answer, and its error message, are then libpq's own).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
import time

from mercenary_maintenance.adapters.postgres import PROBE_SQL, ProbeError


class Unsupported(RuntimeError):
    """Not answerable here; ask libpq (``psql``)."""


def probe(env: dict[str, str], deadline_s: float) -> str:
    """``PROBE_SQL`` on the server ``env`` names, within ``deadline_s``; the server's version."""
    if env.get("PGSSLMODE", "disable") != "disable":
        raise Unsupported(f"sslmode {env['PGSSLMODE']}")
    ends = time.monotonic() + deadline_s
    connect_s = float(env.get("PGCONNECT_TIMEOUT") or deadline_s)
    phase = f"connection to {env['PGHOST']}:{env['PGPORT']}"
    try:
        # as libpq's connect_timeout: connecting and starting the session (authentication) together
        sock = socket.create_connection((env["PGHOST"], int(env["PGPORT"])), timeout=connect_s)
    except TimeoutError:
        raise ProbeError(f"{phase}: timeout expired ({connect_s:g} s)") from None
    except OSError as exc:
        raise ProbeError(f"{phase} failed: {exc}") from None
    try:
        wire = _Wire(sock)
        params = {"user": env["PGUSER"], "database": env["PGDATABASE"],
                  "application_name": env.get("PGAPPNAME", ""), "options": env.get("PGOPTIONS", "")}
        body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items() if v) + b"\0"
        wire.send(struct.pack("!ii", len(body) + 8, 196608) + body)
        _authenticate(wire, env["PGUSER"], env.get("PGPASSWORD", ""))
        wire.until_ready()
        phase = "SELECT 1"
        sock.settimeout(max(0.1, ends - time.monotonic()))
        wire.send(_message(b"Q", PROBE_SQL.encode() + b"\0"))
        row = wire.query_row()
        wire.send(_message(b"X", b""))
    except TimeoutError:
        raise ProbeError(f"{phase}: timeout expired (no answer)") from None
    except (OSError, struct.error) as exc:
        raise ProbeError(f"{phase}: {exc}") from None
    finally:
        sock.close()
    if not row or row[0] != "1":
        raise ProbeError(f"unexpected answer to the probe: {row!r}")
    return (row[1] if len(row) > 1 else None) or "?"


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _error_text(payload: bytes) -> str:
    fields = {f[:1]: f[1:].decode(errors="replace") for f in payload.split(b"\0") if f}
    return f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '?')}"


class _Wire:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stream = sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> tuple[bytes, bytes]:
        head = self.stream.read(5)
        if len(head) < 5:
            raise ProbeError("the server closed the connection")
        size = struct.unpack("!i", head[1:])[0] - 4
        return head[:1], self.stream.read(size)

    def until_ready(self) -> None:
        while True:
            kind, payload = self.read()
            if kind == b"E":
                raise Unsupported(_error_text(payload))
            if kind == b"Z":
                return

    def query_row(self) -> list[str | None]:
        row: list[str | None] = []
        while True:
            kind, payload = self.read()
            if kind == b"E":
                raise ProbeError(_error_text(payload))
            if kind == b"D":
                row, at = [], 2
                for _ in range(struct.unpack("!h", payload[:2])[0]):
                    size = struct.unpack("!i", payload[at:at + 4])[0]
                    at += 4
                    row.append(None if size < 0 else payload[at:at + size].decode(errors="replace"))
                    at += max(size, 0)
            if kind == b"Z":
                return row


def _authenticate(wire: _Wire, user: str, password: str) -> None:
    kind, payload = wire.read()
    if kind == b"E":
        raise Unsupported(_error_text(payload))  # pg_hba refused this (plain) connection: libpq decides
    code = struct.unpack("!i", payload[:4])[0] if kind == b"R" else -1
    if code == 0:
        return
    if code == 3:  # cleartext password
        wire.send(_message(b"p", password.encode() + b"\0"))
    elif code == 5:  # md5 (the protocol's own hashing)
        inner = hashlib.md5((password + user).encode()).hexdigest().encode()
        wire.send(_message(b"p", b"md5" + hashlib.md5(inner + payload[4:8]).hexdigest().encode() + b"\0"))
    elif code == 10 and b"SCRAM-SHA-256\0" in payload[4:]:
        _scram(wire, password)
    else:
        raise Unsupported(f"authentication method {code}")
    kind, payload = wire.read()
    if kind == b"E":
        raise Unsupported(_error_text(payload))
    if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 0:
        raise Unsupported("authentication did not finish")


def _scram(wire: _Wire, password: str) -> None:
    """SCRAM-SHA-256 (RFC 7677) as PostgreSQL speaks it: no channel binding, the user from start-up."""
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n=,r={nonce}"
    first = ("n,," + first_bare).encode()
    wire.send(_message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
    kind, payload = wire.read()
    if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 11:
        raise Unsupported(_error_text(payload) if kind == b"E" else "SCRAM: no server-first message")
    server_first = payload[4:].decode()
    attrs = dict(item.split("=", 1) for item in server_first.split(","))
    if not attrs["r"].startswith(nonce):
        raise ProbeError("SCRAM: the server's nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    without_proof = f"c=biws,r={attrs['r']}"
    auth = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
    wire.send(_message(b"p", f"{without_proof},p={proof}".encode()))
    kind, payload = wire.read()
    if kind == b"E":
        raise Unsupported(_error_text(payload))
    expected = base64.b64encode(hmac.digest(hmac.digest(salted, b"Server Key", "sha256"), auth, "sha256")).decode()
    if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 12 or payload[4:].decode() != f"v={expected}":
        raise ProbeError("SCRAM: the server's signature does not match (not the server we know)")
