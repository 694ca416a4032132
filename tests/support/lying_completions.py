"""A lying OpenAI-compatible completions server, run as its own process on 127.0.0.1 (stdlib only): what
serve.backend openai must survive. GET /v1/models lists `liar-model`; POST /v1/completions answers by the mode the
test sets (POST /_mode {"mode": ...}):

- ok: a proper stream ("Cells are the units of life." in pieces, cut at max_tokens), a usage chunk, [DONE];
- garbage: an event that is not JSON;        - no_done: good pieces, then the connection closes;
- hang: headers and one piece, then silence; - trickle: one byte every 0.3 s that never completes an event;
- overlong: pieces past max_tokens;          - lying_usage: usage.completion_tokens 1000000;
- after_finish: text after the finish_reason;
- json: a whole application/json answer to a streamed request;
- error: HTTP 500 whose message echoes the request's Authorization header (the key must not travel on);
- busy: 429;                                 - redirect: 307 to the same path on a second port (`elsewhere`);
- slow: a piece every 0.05 s up to max_tokens; the piece at which the client went away is recorded.

Every API request (on either port) is recorded with its port, path, Authorization header and JSON body; GET /_seen
returns them and the recorded client departures. /_mode, /_seen and /health are not recorded.

    with lying_completions(tmp_path, key="k") as liar:     # liar.url = http://127.0.0.1:<port>/v1
        liar.set_mode("garbage"); ...; liar.seen()         # {"requests": [...], "left": [piece index, ...]}

Run by the context manager as `python -m tests.support.lying_completions <port> <elsewhere port> <key>`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.servers import VENV_BIN, Server, _spawn, _wait_http, free_port

MODEL = "liar-model"
WORDS = ["Cells", " are", " the", " units", " of", " life", "."]


def handler(role: str, key: str, state: dict[str, Any], lock: threading.Lock, elsewhere: int) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _record(self, body: Any) -> None:
            with lock:
                state["requests"].append(
                    {"port": role, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/health":
                return self._send(200, b'{"status": "ok"}')
            if self.path == "/_seen":
                with lock:
                    return self._send(200, json.dumps({k: state[k] for k in ("requests", "left")}).encode())
            self._record(None)
            if self.path == "/v1/models" and self.headers.get("Authorization") == f"Bearer {key}":
                card = {"id": MODEL, "object": "model", "owned_by": "liar", "max_model_len": 4096}
                return self._send(200, json.dumps({"object": "list", "data": [card]}).encode())
            return self._send(401, b'{"error": {"message": "no", "type": "authentication_error"}}')

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            if self.path == "/_mode":
                with lock:
                    state["mode"] = body["mode"]
                return self._send(200, b"{}")
            self._record(body)
            if role != "main" or self.path != "/v1/completions":
                return self._send(404, b'{"error": {"message": "not here"}}')
            if self.headers.get("Authorization") != f"Bearer {key}":
                return self._send(401, b'{"error": {"message": "wrong key", "type": "authentication_error"}}')
            self.completions(body if isinstance(body, dict) else {}, state["mode"])

        def _stream_start(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _event(self, data: Any) -> None:
            self.wfile.write(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def completions(self, req: dict[str, Any], mode: str) -> None:
            max_tokens = int(req.get("max_tokens") or 16)

            def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
                choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
                return {"id": "cmpl-liar", "object": "text_completion", "model": MODEL, "choices": [choice]}

            def usage(n: int) -> dict[str, Any]:
                prompt = len(req.get("prompt") or [])
                counts = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
                return {"id": "cmpl-liar", "object": "text_completion", "model": MODEL, "choices": [], "usage": counts}

            if mode == "error":
                message = f"internal trouble; you sent {self.headers.get('Authorization')}"
                return self._send(500, json.dumps({"error": {"message": message, "type": "server_error"}}).encode())
            if mode == "busy":
                return self._send(429, b'{"error": {"message": "slow down"}}', **{"Retry-After": "1"})
            if mode == "redirect":
                return self._send(307, b"", Location=f"http://127.0.0.1:{elsewhere}{self.path}")
            if mode == "json":
                return self._send(200, json.dumps(chunk("Cells are.", "stop")).encode())
            self._stream_start()
            words = WORDS[:max_tokens]
            finish = "stop" if len(WORDS) <= max_tokens else "length"
            if mode == "garbage":
                return self._event('{"choices": [{"text": "Cells", "finish_reason": nu')
            if mode == "hang":
                self._event(chunk(words[0]))
                time.sleep(120)
                return
            if mode == "trickle":
                self.wfile.write(b"data: ")
                for _ in range(400):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.3)
                return
            if mode == "slow":
                for i in range(max_tokens):
                    try:
                        self._event(chunk(" cell", "length" if i == max_tokens - 1 else None))
                    except OSError:
                        with lock:
                            state["left"].append(i)
                        return
                    time.sleep(0.05)
                self._event(usage(max_tokens))
                self._event("[DONE]")
                return
            if mode == "overlong":
                words = [" cell"] * (max_tokens + 50)
            for i, word in enumerate(words):
                self._event(chunk(word, finish if i == len(words) - 1 and mode != "overlong" else None))
            if mode == "no_done":
                return
            if mode == "after_finish":
                self._event(chunk(" and more"))
            self._event(usage(1_000_000 if mode == "lying_usage" else len(words)))
            self._event("[DONE]")

    return Handler


@dataclass
class Liar:
    url: str
    """Base URL (…/v1) of the main port."""
    elsewhere: str
    """Origin of the second port (where `redirect` points)."""
    server: Server

    def set_mode(self, mode: str) -> None:
        req = urllib.request.Request(
            self.url.removesuffix("/v1") + "/_mode", json.dumps({"mode": mode}).encode(), method="POST"
        )
        urllib.request.urlopen(req, timeout=10).read()

    def seen(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/_seen", timeout=10) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def lying_completions(workdir: Path, key: str) -> Iterator[Liar]:
    """Start the lying server (mode ok) on two free ports; stopped (process group) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, other = free_port(), free_port()
    root = Path(__file__).resolve().parents[2]
    cmd = [str(VENV_BIN / "python"), "-m", "tests.support.lying_completions", str(port), str(other), key]
    server = _spawn("lying-completions", cmd, {"PYTHONPATH": str(root)}, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/health", timeout=60)
        yield Liar(url=f"{server.url}/v1", elsewhere=f"http://127.0.0.1:{other}", server=server)
    finally:
        server.stop()


if __name__ == "__main__":
    main_port, other_port, api_key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    shared: dict[str, Any] = {"mode": "ok", "requests": [], "left": []}
    guard = threading.Lock()
    second = ThreadingHTTPServer(("127.0.0.1", other_port), handler("elsewhere", api_key, shared, guard, other_port))
    threading.Thread(target=second.serve_forever, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", main_port), handler("main", api_key, shared, guard, other_port)).serve_forever()
