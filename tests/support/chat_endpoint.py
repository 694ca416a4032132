"""A tiny OpenAI-compatible chat-completions endpoint, run as its own process on 127.0.0.1 (stdlib only).

Every request it receives (any method, any path) is appended to a JSONL log with its method, path, headers and
body, so a test can see exactly what reached it (e.g. whether an Authorization header ever did). Modes:

- chat (default): fails the first `--fail-first` requests with `--status`, answers 400 to `tools` with
  `--reject-tools`, otherwise answers by what the prompt asks for (question, Socratic dialogue, tool call, ...).
- redirect: `--redirect-to URL` answers every request with `--redirect-status` (302) and `Location: URL`.

    with chat_endpoint(tmp_path / "a") as server:      # server.url = http://127.0.0.1:<port>/v1
        ...; server.requests()                         # [{"method", "path", "auth", "headers", "body"}, ...]
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

CELL_ANSWER = "Question: What is a cell?\nAnswer: The basic unit of all living organisms."


def answer(body: Any) -> dict:
    """The assistant message for a chat-completions body (a tool call when `tools` are offered)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    user = str(messages[-1].get("content", "")) if messages else ""
    if isinstance(body, dict) and body.get("tools"):
        three_d = "3D" in user
        name = "show_3d_model" if three_d else "search_textbook"
        args = json.dumps({"model_id": "animal_cell"} if three_d else {"query": "cells"})
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}],
        }
    if "Student:" in user and "Tutor:" in user:
        return {
            "role": "assistant",
            "content": "Student: What does the nucleus do?\nTutor: Think about what the "
            "cell needs to store. What might the nucleus contain?\nAnswer: the genetic material",
        }
    if "Question:" in user or not messages:  # a redirected GET has no body: still a plausible answer
        return {"role": "assistant", "content": CELL_ANSWER}
    return {"role": "assistant", "content": "Sure! I like turtles."}


def serve(port: int, log_path: Path, opts: argparse.Namespace) -> None:
    lock = threading.Lock()
    state = {"fail_left": opts.fail_first}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:  # the JSONL log is the record
            pass

        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            record = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
            with lock:
                with log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                fail = state["fail_left"] > 0 or (opts.reject_tools and isinstance(body, dict) and "tools" in body)
                if fail:
                    state["fail_left"] -= 1
            if opts.redirect_to:
                self._send(opts.redirect_status, b'{"error": "moved"}', {"Location": opts.redirect_to})
            elif fail:
                self._send(opts.status, b'{"error": "busy"}')
            else:
                model = body.get("model", "m") if isinstance(body, dict) else "m"
                choice = {"index": 0, "message": answer(body), "finish_reason": "stop"}
                resp = {"id": "x", "object": "chat.completion", "model": model, "choices": [choice]}
                self._send(200, json.dumps(resp).encode())

        def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@dataclass
class ChatEndpoint:
    """A running endpoint: its base URL (…/v1), origin, request log and process."""

    url: str
    origin: str
    log_path: Path
    server: Any  # tests.support.servers.Server

    def requests(self) -> list[dict]:
        """Every request received so far; `auth` is its Authorization header (None when absent)."""
        if not self.log_path.exists():
            return []
        rows = [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines() if line]
        for r in rows:
            r["auth"] = next((v for k, v in r["headers"].items() if k.lower() == "authorization"), None)
        return rows


@contextlib.contextmanager
def chat_endpoint(
    workdir: Path,
    fail_first: int = 0,
    status: int = 500,
    reject_tools: bool = False,
    redirect_to: str | None = None,
    redirect_status: int = 302,
) -> Iterator[ChatEndpoint]:
    """Start this file as a server process on a free 127.0.0.1 port; stopped (process group) on exit."""
    from tests.support.servers import _spawn, free_port

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    log_path = workdir / "requests.jsonl"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(port), "--log", str(log_path)]
    cmd += ["--fail-first", str(fail_first), "--status", str(status), "--redirect-status", str(redirect_status)]
    cmd += ["--reject-tools"] * reject_tools + (["--redirect-to", redirect_to] if redirect_to else [])
    server = _spawn("chat-endpoint", cmd, {}, workdir, origin)
    try:
        deadline = time.monotonic() + 30
        while True:  # ready when it accepts connections (an HTTP probe would land in the request log)
            if not server.alive():
                raise RuntimeError(f"chat endpoint exited with {server.proc.returncode}:\n{server.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chat endpoint not listening on {origin}:\n{server.log_tail()}") from None
                time.sleep(0.05)
        yield ChatEndpoint(url=f"{origin}/v1", origin=origin, log_path=log_path, server=server)
    finally:
        server.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int, default=500)
    ap.add_argument("--reject-tools", action="store_true")
    ap.add_argument("--redirect-to")
    ap.add_argument("--redirect-status", type=int, default=302)
    a = ap.parse_args()
    serve(a.port, a.log, a)
