"""An HTTP server, run as its own process on 127.0.0.1 (stdlib only), that refuses every request with one status
(401 by default) and, as the worst case for an error message or log line that quotes the response, echoes the
request's credential headers back: in the JSON body and in a `WWW-Authenticate` header, the reply's first.

Every request is appended to a JSONL log (method, path, headers), so a test can prove the credential did reach it.

    with rejecting_server(tmp_path / "ls") as server:        # server.url = http://127.0.0.1:<port>
        ...; server.requests()                               # [{"method", "path", "headers"}, ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "cookie", "x-amz-security-token")


def serve(port: int, log_path: Path, status: int) -> None:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:  # the JSONL log is the record
            pass

        def _handle(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            with lock, log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "headers": headers}) + "\n")
            sent = {k: v for k, v in headers.items() if k.lower() in CREDENTIAL_HEADERS}
            body = json.dumps({"detail": "Invalid token.", "you_sent": sent}).encode()
            self.send_response_only(status)  # no Server/Date: the echo is the first header a client sees
            self.send_header("WWW-Authenticate", f'Token realm="api", rejected="{"; ".join(sent.values())}"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@dataclass
class RejectingServer:
    """A running server: its base URL, request log and process."""

    url: str
    log_path: Path
    server: Any  # tests.support.servers.Server

    def requests(self) -> list[dict]:
        """Every request received so far."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines() if line]


@contextlib.contextmanager
def rejecting_server(workdir: Path, status: int = 401) -> Iterator[RejectingServer]:
    """Start this file as a server process on a free 127.0.0.1 port; stopped (process group) on exit."""
    from tests.support.servers import _spawn, free_port

    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "requests.jsonl"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(port), "--log", str(log_path)]
    server = _spawn("rejecting-server", [*cmd, "--status", str(status)], {}, workdir, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:  # ready when it accepts connections (an HTTP probe would land in the request log)
            if not server.alive():
                raise RuntimeError(f"rejecting server exited with {server.proc.returncode}:\n{server.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rejecting server not listening on port {port}") from None
                time.sleep(0.05)
        yield RejectingServer(url=server.url, log_path=log_path, server=server)
    finally:
        server.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--status", type=int, default=401)
    a = ap.parse_args()
    serve(a.port, a.log, a.status)
