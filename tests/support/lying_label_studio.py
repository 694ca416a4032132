"""A lying Label Studio: a real HTTP server process on 127.0.0.1 that speaks the few endpoints our client calls
(whoami, project list, task list, project export) and answers the way a broken or hostile server might.

    with lying_label_studio(tmp_path, titles=["QA"], export=b"[...]", endless_projects=True) as server:
        server.env    # {"LABEL_STUDIO_URL": ..., "LABEL_STUDIO_API_KEY": ...} for the CLI / settings_from_env

- endless_projects / endless_tasks: every page of GET /api/projects/ (or /api/tasks/) is full and says there is a
  next one, forever (the SDK's pager only stops on an empty page);
- export: the exact bytes GET /api/projects/<id>/export returns (a 200k-deep JSON, a snapshot with a string where a
  list belongs, ...).

Run by the context manager as `python -m tests.support.lying_label_studio <port> <config.json>`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.servers import VENV_BIN, Server, _spawn, _wait_http, free_port

TOKEN = "lying-token-0123456789"
PAGE = 100


def _project(pid: int, title: str) -> dict:
    return {"id": pid, "title": title, "label_config": "<View/>", "expert_instruction": "", "show_instruction": True}


def _task(tid: int, project: int) -> dict:
    return {"id": tid, "project": project, "data": {"external_id": f"x:{tid}"}, "annotations": [], "predictions": []}


def handler(cfg: dict) -> type[BaseHTTPRequestHandler]:
    export = Path(cfg["export"]).read_bytes() if cfg.get("export") else b"[]"
    titles: list[str] = cfg.get("titles", [])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test log quiet
            pass

        def _send(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            page = int(q.get("page", "1"))
            if url.path == "/health":
                return self._send(b'{"status": "UP"}')
            if self.headers.get("Authorization") != f"Token {TOKEN}":
                return self._send(b'{"detail": "Authentication credentials were not provided."}', 401)
            if url.path == "/api/current-user/whoami":
                return self._send(json.dumps({"id": 1, "email": "liar@example.test", "username": "liar"}).encode())
            if url.path == "/api/projects/":
                if cfg.get("endless_projects"):
                    results = [_project(page * 1000 + i, f"decoy {page}-{i}") for i in range(PAGE)]
                else:
                    results = [_project(i + 1, t) for i, t in enumerate(titles)] if page == 1 else []
                nxt = f"/api/projects/?page={page + 1}" if cfg.get("endless_projects") else None
                body = {"count": 10**9, "next": nxt, "previous": None, "results": results}
                return self._send(json.dumps(body).encode())
            if url.path == "/api/tasks/":
                endless = cfg.get("endless_tasks")
                tasks = [_task(page * 1000 + i, int(q.get("project", 1))) for i in range(PAGE)] if endless else []
                body = {"tasks": tasks, "total": 10**9, "total_annotations": 0, "total_predictions": 0}
                return self._send(json.dumps(body).encode())
            if url.path.startswith("/api/projects/") and url.path.endswith("/export"):
                return self._send(export)
            return self._send(b'{"detail": "Not found."}', 404)

    return Handler


@contextlib.contextmanager
def lying_label_studio(workdir: Path, **cfg: object) -> Iterator[Server]:
    """Start the lying server with `cfg` (titles, export bytes, endless_projects, endless_tasks); stop it after."""
    workdir.mkdir(parents=True, exist_ok=True)
    export = cfg.pop("export", None)
    if isinstance(export, bytes):
        (workdir / "export.json").write_bytes(export)
        cfg["export"] = str(workdir / "export.json")
    (workdir / "lying.json").write_text(json.dumps(cfg))
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    cmd = [str(VENV_BIN / "python"), "-m", "tests.support.lying_label_studio", str(port), str(workdir / "lying.json")]
    server = _spawn("lying-label-studio", cmd, {"PYTHONPATH": str(root)}, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/health", timeout=60)
        server.env = {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": TOKEN}
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    port, config = int(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    ThreadingHTTPServer(("127.0.0.1", port), handler(config)).serve_forever()
