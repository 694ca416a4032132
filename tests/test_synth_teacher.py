"""Synth teacher backends: the OpenAI-compatible one against a real local HTTP server (retries, 4xx, API key from
the environment, tool-less fallback, parsed and filtered teacher examples) and the HF one running real SmolLM2."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.sections import SECTIONS
from tutorforge.synth import generate as synth
from tutorforge.synth.filters import FILTERS
from tutorforge.synth.teachers import API_KEY_ENV, BASE_URL_ENV, OpenAITeacher, TeacherHTTPError


# --- OpenAI-compatible backend against a real local HTTP server ----------------------------------------------
class _ChatServer:
    """A tiny chat-completions endpoint: fails the first `fail_first` requests with 500, then answers by task."""

    def __init__(self, fail_first: int = 0, status: int = 500, reject_tools: bool = False) -> None:
        self.requests: list[dict] = []
        self.reject_tools = reject_tools
        self.fail_left, self.status = fail_first, status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if outer.fail_left > 0 or (outer.reject_tools and "tools" in body):
                    outer.fail_left -= 1
                    self.send_response(outer.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "busy"}')
                    return
                msg = outer.answer(body)
                data = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def answer(body: dict) -> dict:
        if body.get("tools"):
            args = (
                json.dumps({"model_id": "animal_cell"})
                if "3D" in body["messages"][-1]["content"]
                else json.dumps({"query": "cells"})
            )
            name = "show_3d_model" if "3D" in body["messages"][-1]["content"] else "search_textbook"
            return {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}],
            }
        user = body["messages"][-1]["content"]
        if "Student:" in user and "Tutor:" in user:
            return {
                "role": "assistant",
                "content": "Student: What does the nucleus do?\nTutor: Think about what the "
                "cell needs to store. What might the nucleus contain?\nAnswer: the genetic material",
            }
        if "Question:" in user:
            return {
                "role": "assistant",
                "content": "Question: What is a cell?\nAnswer: The basic unit of all living organisms.",
            }
        return {"role": "assistant", "content": "Sure! I like turtles."}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_backend_retries_after_500_and_key_only_from_env(monkeypatch, caplog):
    server = _ChatServer(fail_first=1)
    try:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "sk-test-secret")
        t = OpenAITeacher("tiny-teacher", backoff_s=0.01, concurrency=1)
        out = t.generate([[{"role": "user", "content": "Question: say hi"}]], max_new_tokens=8, temperature=0.0, seed=3)
        assert out == ["Question: What is a cell?\nAnswer: The basic unit of all living organisms."]
        assert len(server.requests) == 2  # one 500, one retry
        assert all(
            r["auth"] == "Bearer sk-test-secret" and r["path"] == "/v1/chat/completions" for r in server.requests
        )
        body = server.requests[-1]["body"]
        assert body["model"] == "tiny-teacher" and body["max_tokens"] == 8 and body["seed"] == 3
        assert "sk-test-secret" not in caplog.text and "sk-test-secret" not in json.dumps(body)
        monkeypatch.delenv(API_KEY_ENV)
        t.generate([[{"role": "user", "content": "hi"}]], max_new_tokens=8, temperature=0.0, seed=0)
        assert server.requests[-1]["auth"] is None  # no key in the environment -> no header, never a default
    finally:
        server.close()


def test_openai_backend_gives_up_and_does_not_retry_4xx(monkeypatch):
    server = _ChatServer(fail_first=10)
    bad = _ChatServer(fail_first=10, status=400)
    try:
        with pytest.raises(TeacherHTTPError, match="after 3 attempts"):
            OpenAITeacher("m", base_url=server.url, max_retries=2, backoff_s=0.01).generate(
                [[{"role": "user", "content": "x"}]], 8, 0.0, 0
            )
        assert len(server.requests) == 3
        with pytest.raises(TeacherHTTPError, match="HTTP 400"):
            OpenAITeacher("m", base_url=bad.url, max_retries=2, backoff_s=0.01).generate(
                [[{"role": "user", "content": "x"}]], 8, 0.0, 0
            )
        assert len(bad.requests) == 1
        notools = _ChatServer(reject_tools=True, status=400)  # vLLM without --enable-auto-tool-choice
        try:
            out = OpenAITeacher("m", base_url=notools.url, backoff_s=0.01).generate(
                [[{"role": "user", "content": "Question: x"}]], 8, 0.0, 0, tools=[{"type": "function"}]
            )
            assert out[0].startswith("Question:") and ["tools" in r["body"] for r in notools.requests] == [True, False]
        finally:
            notools.close()
        monkeypatch.delenv(BASE_URL_ENV, raising=False)
        with pytest.raises(ValueError, match=BASE_URL_ENV):
            OpenAITeacher("m")
    finally:
        server.close()
        bad.close()


def test_openai_teacher_examples_are_parsed_filtered_and_accounted(monkeypatch):
    server = _ChatServer()
    try:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        cfg = synth.SynthConfig(teacher=synth.TeacherConfig(backend="openai", model="tiny-teacher", max_sections=3))
        kept, rejected, report = synth.synthesize(SECTIONS, cfg)
        tex = [e for e in kept if e["source"] == "synth:teacher"]
        trej = [r for r in rejected if r["example"]["source"] == "synth:teacher"]
        assert report["teacher"]["outputs"] == len(tex) + len(trej) == len(server.requests)
        assert any(r["body"].get("tools") for r in server.requests)
        for e in tex:
            p = e["provenance"]
            assert p["model"] == "tiny-teacher" and p["backend"] == "openai" and p["template_id"].startswith("teacher.")
        # "I like turtles" paraphrases are rejected, and each rejection says why
        assert all(r["filter"] in FILTERS and r["reason"] for r in trej)
        assert {r["filter"] for r in trej if r["kind"] == "paraphrase"} == {"paraphrase"}
        assert not [e for e in tex if e["kind"] == "paraphrase"]
        assert any(e["kind"] == "tool_call" for e in tex)
        assert report["generated"] == report["kept"] + report["rejected"]
    finally:
        server.close()


@pytest.mark.slow
def test_hf_teacher_really_runs_smollm2():
    from tutorforge.synth.teachers import HFTeacher

    teacher = HFTeacher("smollm2", batch_size=8, threads=1)  # 1 thread: robust on a busy 2-core CI box
    cfg = synth.SynthConfig(
        teacher=synth.TeacherConfig(backend="hf", max_sections=2, max_new_tokens=24, max_passage_chars=300)
    )
    kept, rejected, report = synth.synthesize(SECTIONS[:3], cfg, teacher=teacher)
    tex = [e for e in kept if e["source"] == "synth:teacher"]
    trej = [r for r in rejected if r["example"]["source"] == "synth:teacher"]
    # 2 sections x (qa, socratic, tool_call, paraphrase) prompts: every output is kept or rejected with a reason
    assert report["teacher"]["outputs"] == len(tex) + len(trej) == 8
    assert all(r["filter"] in FILTERS and r["reason"] for r in trej)
    assert {e["provenance"]["model"] for e in tex + [r["example"] for r in trej]} == {"smollm2"}
    assert {e["kind"] for e in tex + [r["example"] for r in trej]} == {"qa", "socratic", "tool_call", "paraphrase"}
