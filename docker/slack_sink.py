"""A stand-in for Slack in the compose trial: accepts incoming-webhook POSTs, logs them.

Set SLACK_WEBHOOK_URL in .env to send to a real Slack workspace instead.
"""

import json
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            text = json.loads(body).get("text", "")
        except ValueError:
            text = body.decode(errors="replace")
        print(f"slack message: {text}", flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")


HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
