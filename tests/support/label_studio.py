"""Label Studio test helpers: tiny fixture data + model, test-private project kinds, a client of the session server,
and a TCP proxy that kills the connection half-way through a response.

    from tests.support.label_studio import CutProxy, ls_client, make_tiny, private_kinds
    tiny = make_tiny(tmp_path_factory.mktemp("ls-tiny"))   # {dir, sections, synth, model}
    client = ls_client(label_studio_server, attempts=2)     # Settings fields override the test defaults
    kinds = private_kinds("idem")                           # the real kinds, titles suffixed " [idem]"
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from pathlib import Path

from tutorforge.core.io import write_jsonl
from tutorforge.corpus.synthetic_dataset import make_sections, make_synth
from tutorforge.labelstudio import client as L
from tutorforge.labelstudio.schema import project_kinds
from tutorforge.training.tiny import make_model, make_tokenizer


def make_tiny(d: Path) -> dict:
    """Fixture sections + synthetic examples + a tiny random Llama (with the project-style chat tokenizer) in `d`."""
    tok = make_tokenizer()
    make_model(tok, d / "model")
    secs = make_sections(10, seed=5)
    syn = make_synth(secs)
    write_jsonl(d / "sections.jsonl", secs)
    write_jsonl(d / "synth.jsonl", syn)
    return {"dir": d, "sections": secs, "synth": syn, "model": d / "model"}


def private_kinds(tag: str) -> dict:
    """The real project kinds under test-private titles."""
    return {k: dataclasses.replace(v, title=f"{v.title} [{tag}]") for k, v in project_kinds().items()}


def ls_client(server, **kw) -> L.Client:  # noqa: ANN001
    """A connected client of the (session) Label Studio server; `kw` replaces Settings fields."""
    s = L.Settings(
        server.env["LABEL_STUDIO_URL"], server.env["LABEL_STUDIO_API_KEY"], attempts=3, base_delay=0.5, timeout=60
    )
    return L.connect(dataclasses.replace(s, **kw))


class CutProxy:
    """A TCP proxy to the real server that dies (listener + connections closed) `cut_after` bytes into the
    response of the first request whose bytes contain `cut_on` - a server killed in the middle of a download."""

    def __init__(self, upstream: str, cut_on: bytes = b"/export", cut_after: int = 1500):
        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.upstream, self.cut_on, self.cut_after = (host, int(port)), cut_on, cut_after
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.dead = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(self.upstream)
            self.conns += [c, u]
            state = {"cut": False}
            threading.Thread(target=self._pipe, args=(c, u, state, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, state, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, state: dict, to_server: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if to_server and self.cut_on in data:
                    state["cut"] = True
                if not to_server and state["cut"]:
                    data = data[: self.cut_after - sent]
                    dst.sendall(data)
                    sent += len(data)
                    if sent >= self.cut_after:
                        self.kill()
                        return
                    continue
                dst.sendall(data)
        except OSError:
            pass

    def kill(self) -> None:
        self.dead.set()
        for s in [self.sock, *self.conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
