"""Synth teacher backends: the OpenAI-compatible one against real local HTTP servers run as processes (retries, 4xx,
API key from the environment only and never across a redirect, tool-less fallback, parsed and filtered teacher
examples) and the HF one running real SmolLM2."""

from __future__ import annotations

import json

import pytest

from tests.support.chat_endpoint import CELL_ANSWER, chat_endpoint
from tests.support.sections import SECTIONS
from tutorforge.synth import generate as synth
from tutorforge.synth.filters import FILTERS
from tutorforge.synth.teachers import API_KEY_ENV, BASE_URL_ENV, OpenAITeacher, TeacherHTTPError


# --- OpenAI-compatible backend against real local HTTP servers (separate processes) ----------------------------
def test_openai_backend_retries_after_500_and_key_only_from_env(monkeypatch, caplog, tmp_path):
    with chat_endpoint(tmp_path, fail_first=1) as server:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "sk-test-secret")
        t = OpenAITeacher("tiny-teacher", backoff_s=0.01, concurrency=1)
        out = t.generate([[{"role": "user", "content": "Question: say hi"}]], max_new_tokens=8, temperature=0.0, seed=3)
        assert out == [CELL_ANSWER]
        reqs = server.requests()
        assert len(reqs) == 2  # one 500, one retry
        assert all(r["auth"] == "Bearer sk-test-secret" and r["path"] == "/v1/chat/completions" for r in reqs)
        body = reqs[-1]["body"]
        assert body["model"] == "tiny-teacher" and body["max_tokens"] == 8 and body["seed"] == 3
        assert "sk-test-secret" not in caplog.text and "sk-test-secret" not in json.dumps(body)
        monkeypatch.delenv(API_KEY_ENV)
        t.generate([[{"role": "user", "content": "hi"}]], max_new_tokens=8, temperature=0.0, seed=0)
        assert server.requests()[-1]["auth"] is None  # no key in the environment -> no header, never a default


def test_openai_backend_gives_up_and_does_not_retry_4xx(monkeypatch, tmp_path):
    with (
        chat_endpoint(tmp_path / "busy", fail_first=10) as server,
        chat_endpoint(tmp_path / "bad", fail_first=10, status=400) as bad,
        chat_endpoint(tmp_path / "notools", reject_tools=True, status=400) as notools,  # vLLM w/o auto tool choice
    ):
        with pytest.raises(TeacherHTTPError, match="after 3 attempts"):
            OpenAITeacher("m", base_url=server.url, max_retries=2, backoff_s=0.01).generate(
                [[{"role": "user", "content": "x"}]], 8, 0.0, 0
            )
        assert len(server.requests()) == 3
        with pytest.raises(TeacherHTTPError, match="HTTP 400"):
            OpenAITeacher("m", base_url=bad.url, max_retries=2, backoff_s=0.01).generate(
                [[{"role": "user", "content": "x"}]], 8, 0.0, 0
            )
        assert len(bad.requests()) == 1
        out = OpenAITeacher("m", base_url=notools.url, backoff_s=0.01).generate(
            [[{"role": "user", "content": "Question: x"}]], 8, 0.0, 0, tools=[{"type": "function"}]
        )
        assert out[0].startswith("Question:") and ["tools" in r["body"] for r in notools.requests()] == [True, False]
        monkeypatch.delenv(BASE_URL_ENV, raising=False)
        with pytest.raises(ValueError, match=BASE_URL_ENV):
            OpenAITeacher("m")
        for bad_url in ("not-a-url", "ftp://host/v1", "http:///v1"):
            with pytest.raises(ValueError, match="must be http"):
                OpenAITeacher("m", base_url=bad_url)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_openai_backend_refuses_redirects_and_never_sends_the_key_elsewhere(monkeypatch, tmp_path, status):
    """A: answers `status` with Location on B (another origin); B: a working endpoint that logs every header."""
    monkeypatch.setenv(API_KEY_ENV, "sk-test-secret")
    with chat_endpoint(tmp_path / "b") as b:
        with chat_endpoint(tmp_path / "a", redirect_to=f"{b.url}/chat/completions", redirect_status=status) as a:
            teacher = OpenAITeacher("m", base_url=a.url, max_retries=2, backoff_s=0.01, concurrency=1)
            with pytest.raises(TeacherHTTPError) as err:
                teacher.generate([[{"role": "user", "content": "Question: x"}]], 8, 0.0, 0)
            msg = str(err.value)
            assert f"HTTP {status}" in msg and f"redirect to {b.origin}" in msg and "\n" not in msg
            assert "sk-test-secret" not in msg
            assert len(a.requests()) == 1  # not retried: a redirect is a configuration error, not a hiccup
            assert [r["auth"] for r in b.requests()] == []  # B never contacted, so it never saw the key


def test_openai_backend_refuses_same_origin_redirects_too(monkeypatch, tmp_path):
    """Even a same-origin 302 is refused: urllib would resend the POST as a body-less GET with the key."""
    monkeypatch.setenv(API_KEY_ENV, "sk-test-secret")
    with chat_endpoint(tmp_path / "self", redirect_to="/v1/other") as a:
        with pytest.raises(TeacherHTTPError, match=f"HTTP 302 redirect to {a.origin}"):
            OpenAITeacher("m", base_url=a.url, backoff_s=0.01).generate([[{"role": "user", "content": "x"}]], 8, 0.0, 0)
        assert [(r["method"], r["path"]) for r in a.requests()] == [("POST", "/v1/chat/completions")]


def test_openai_teacher_examples_are_parsed_filtered_and_accounted(monkeypatch, tmp_path):
    with chat_endpoint(tmp_path) as server:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        cfg = synth.SynthConfig(teacher=synth.TeacherConfig(backend="openai", model="tiny-teacher", max_sections=3))
        kept, rejected, report = synth.synthesize(SECTIONS, cfg)
        reqs = server.requests()
        tex = [e for e in kept if e["source"] == "synth:teacher"]
        trej = [r for r in rejected if r["example"]["source"] == "synth:teacher"]
        assert report["teacher"]["outputs"] == len(tex) + len(trej) == len(reqs)
        assert any(r["body"].get("tools") for r in reqs)
        for e in tex:
            p = e["provenance"]
            assert p["model"] == "tiny-teacher" and p["backend"] == "openai" and p["template_id"].startswith("teacher.")
        # "I like turtles" paraphrases are rejected, and each rejection says why
        assert all(r["filter"] in FILTERS and r["reason"] for r in trej)
        assert {r["filter"] for r in trej if r["kind"] == "paraphrase"} == {"paraphrase"}
        assert not [e for e in tex if e["kind"] == "paraphrase"]
        assert any(e["kind"] == "tool_call" for e in tex)
        assert report["generated"] == report["kept"] + report["rejected"]


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
