"""Shared set-up of the backup tests: a fresh bucket, the connections, and a config writer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


def backup_env(pg: Any, s3: Any, source: str, write_config: Any, connections: Any,
               bucket_prefix: str) -> Callable[..., dict[str, Any]]:
    """Point maintenance_postgres at ``source`` and maintenance_s3 at a new bucket; return a
    function that (re)writes the config with extra ``backups`` keys (and a ``postgres`` section)."""
    bucket = f"{bucket_prefix}-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    connections({**pg.connection_env("maintenance_postgres", source), **s3.connection_env("maintenance_s3")})

    def configure(postgres: dict[str, Any] | None = None, **backups: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres"}], "redis": []},
            "backups": {"bucket": bucket, "part_size_mb": 5, **backups}}
        if postgres:
            data["postgres"] = postgres
        write_config(data)
        return data

    configure()
    return configure


class RefusingS3:
    """An HTTP proxy in front of moto that answers ``403 AccessDenied`` to the requests ``refuse``
    picks (method, path with query) — a least-privilege role, injected where boto3 sees it."""

    def __init__(self, upstream_port: int, refuse: Callable[[str, str], bool]) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from mercenary_dev import servers

        self.refused: list[str] = []
        owner = self
        denied = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                  b"<Message>Access Denied</Message></Error>")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _proxy(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if refuse(self.command, self.path):
                    owner.refused.append(f"{self.command} {self.path}")
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(denied)))
                    self.end_headers()
                    self.wfile.write(denied)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                reply = conn.getresponse()
                payload = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                conn.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _proxy

        self.httpd = ThreadingHTTPServer(("127.0.0.1", servers.free_port()), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def connection_env(self, conn_id: str) -> dict[str, str]:
        import json

        conn = {"conn_type": "aws", "login": "testing", "password": "testing",
                "extra": {"endpoint_url": f"http://127.0.0.1:{self.httpd.server_address[1]}",
                          "region_name": "us-east-1"}}
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
