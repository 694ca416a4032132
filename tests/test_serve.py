"""`tutorforge serve` as a real process: bearer auth (the official openai client included), the body-size limit,
textbook context that finds the benchmark's answers, Prometheus metrics, one-line start-up errors, and a registry
version downloaded, verified and re-downloaded when the cached copy is damaged."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import openai
import pytest

from tests.support.bundles import make_bundle
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import VENV_BIN, Server, tutor_server
from tutorforge.core.io import read_jsonl
from tutorforge.eval.benchmark import load_benchmark

TOKEN = "tutor-test-token-5f1d9c0b7a2e4c6d"


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def server(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("serve")
    bundle = make_bundle(work / "bundle", sample / "index")
    with tutor_server(work, "--model", str(bundle), token=TOKEN) as srv:
        yield srv


def call(srv: Server, method: str, path: str, token: str | None = TOKEN, body: bytes | None = None, headers=None):
    url = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs |= dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), (json.loads(data) if data.startswith((b"{", b"[")) else data.decode())


def context(srv: Server, q: str, **params) -> dict:
    status, _, body = call(srv, "GET", "/context?" + urllib.parse.urlencode({"q": q, **params}))
    assert status == 200, body
    return body


def test_health_is_public_and_everything_else_needs_the_token(server: Server):
    status, _, body = call(server, "GET", "/health", token=None)
    assert status == 200 and body["status"] == "ok" and body["model"] == "bundle" and body["index_chunks"] > 100
    for path in ("/v1/models", "/context?q=cells", "/metrics"):
        for token in (None, "wrong-token", TOKEN + "x", ""):
            status, headers, body = call(server, "GET", path, token=token)
            assert status == 401 and body["error"]["type"] == "authentication_error", (path, token, body)
            assert headers.get("www-authenticate") == "Bearer"
    status, _, _ = call(server, "GET", "/v1/models", token=None, headers={"Authorization": f"Token {TOKEN}"})
    assert status == 401  # another scheme with the right secret is still refused


def test_the_official_openai_client_lists_the_model_and_sees_401(server: Server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=TOKEN, max_retries=0)
    assert [m.id for m in client.models.list()] == ["bundle"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="not-the-token", max_retries=0).models.list()


def test_context_finds_the_section_and_page_of_the_benchmark_answers(server: Server, sample: Path):
    pages = {(p["doc_id"], p["page"]): p["text"] for p in read_jsonl(sample / "ingest" / "pages.jsonl")}
    units = {s["section_id"]: s["text"] for s in read_jsonl(sample / "segment" / "sections.jsonl")}
    grounded = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1").items("grounded")
    section_hits = page_hits = 0
    for item in grounded:
        chunks = context(server, item["question"], k=3)["chunks"]
        assert [c["rank"] for c in chunks] == [1, 2, 3]
        for c in chunks:  # each chunk is the exact passage of the page it cites
            doc_id = next(d for d, p in pages if p == c["page"] and pages[(d, p)][c["start"] : c["end"]] == c["text"])
            units.setdefault(c["section_id"], pages[(doc_id, c["page"])])
        section_hits += any(squash(item["evidence"]) in squash(units[c["section_id"]]) for c in chunks)
        page_hits += (item["doc"], item["page"]) in {(c["file"], c["page"]) for c in chunks}
    assert section_hits / len(grounded) >= 0.9 and page_hits / len(grounded) >= 0.9, (section_hits, page_hits)
    physics = context(server, "What is the unit of electric current?", k=4, subject="physics")["chunks"]
    assert len(physics) == 4 and {c["subject"] for c in physics} == {"physics"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"q": "cells", "k": 0}, "query.k"),
        ({"q": "cells", "k": 999}, "query.k"),
        ({"q": ""}, "query.q"),
        ({"k": 3}, "query.q"),
        ({"q": "x" * 2001}, "query.q"),
        ({"q": "cells", "subject": "astrology"}, "subject: 'astrology'"),
    ],
    ids=["k-zero", "k-too-big", "empty-q", "no-q", "q-too-long", "unknown-subject"],
)
def test_bad_context_parameters_get_422_naming_the_parameter(server: Server, query: dict, message: str):
    status, _, body = call(server, "GET", "/context?" + urllib.parse.urlencode(query))
    assert status == 422 and message in body["error"]["message"], body


def test_post_context_takes_json_and_malformed_bodies_get_4xx(server: Server):
    hdrs = {"Content-Type": "application/json"}
    status, _, body = call(server, "POST", "/context", body=b'{"q": "what is osmosis", "k": 2}', headers=hdrs)
    assert status == 200 and len(body["chunks"]) == 2
    assert body["chunks"] == context(server, "what is osmosis", k=2)["chunks"]  # GET and POST agree
    for bad in (b'{"q": "osmosis"', b"[1, 2]", b'{"q": "x", "k": "three"}', b'{"q": "x", "extra": 1}', b"\xff\xfe"):
        status, _, body = call(server, "POST", "/context", body=bad, headers=hdrs)
        assert status == 422 and body["error"]["type"] == "invalid_request_error", (bad, body)
    status, _, body = call(server, "DELETE", "/context")
    assert status == 405 and "error" in body  # the OpenAI error shape for every error


def test_oversized_bodies_are_refused_before_they_are_read(server: Server):
    big = b"{" + b" " * 70_000 + b"}"
    status, _, body = call(server, "POST", "/context", body=big, headers={"Content-Type": "application/json"})
    assert status == 413 and body["error"]["code"] == "too_large"
    # a Content-Length that lies (small) while the body is large: counted as it arrives
    url = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.putrequest("POST", "/context")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for _ in range(20):
        conn.send(b"1000\r\n" + b"a" * 4096 + b"\r\n")
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 413, resp.read()
    conn.close()
    assert call(server, "GET", "/health", token=None)[0] == 200  # the server is still up


def test_metrics_count_requests_by_route_and_the_token_is_never_logged(server: Server):
    context(server, "what is osmosis")
    status, _, text = call(server, "GET", "/metrics")
    assert status == 200
    assert re.search(r'tutorforge_requests_total\{path="/context",status="200"\} [1-9]', text), text[:2000]
    assert 'tutorforge_request_seconds_count{path="/context"}' in text
    assert TOKEN not in server.log_tail(10**7)


def run_serve(cwd: Path, *args: str, token: str | None = TOKEN, extra_env=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TUTORFORGE_API_TOKEN"} | dict(extra_env or {})
    if token is not None:
        env["TUTORFORGE_API_TOKEN"] = token
    cmd = [str(VENV_BIN / "tutorforge"), "serve", "--params", str(ROOT / "params.yaml"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess, code: int) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == code and "Traceback" not in err and len(err.splitlines()) == 1, (proc.returncode, err)
    return err


def test_start_up_mistakes_are_one_line_errors(sample: Path, tmp_path: Path):
    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    assert "TUTORFORGE_API_TOKEN is not set" in one_line(run_serve(tmp_path, "--model", str(bundle), token=None), 2)
    assert "TUTORFORGE_API_TOKEN is not set" in one_line(run_serve(tmp_path, "--model", str(bundle), token="  "), 2)
    assert "holds no model" in one_line(run_serve(tmp_path, "--model", str(tmp_path)), 1)
    (bundle / "index" / "chunks.jsonl").write_text("{}\n")
    assert "chunks.jsonl: sha256 differs" in one_line(run_serve(tmp_path, "--model", str(bundle)), 1)
    assert "serve.port" in one_line(run_serve(tmp_path, "--model", str(bundle), "--port", "0"), 2)


def test_a_registry_version_is_downloaded_verified_and_fetched_again_when_damaged(sample: Path, tmp_path: Path):
    from tutorforge.registry.registry import Registry
    from tutorforge.registry.store import open_store

    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    reg = Registry(open_store(str(tmp_path / "registry")))
    version, _ = reg.register("tutorforge-tutor", {"sft/merged": bundle / "sft/merged", "index": bundle / "index"})
    reg.point("tutorforge-tutor", "production", version, "test")
    env = {"TUTORFORGE_REGISTRY": str(tmp_path / "registry")}
    assert "no-such-alias" in one_line(run_serve(tmp_path, "--model", "registry:no-such-alias", extra_env=env), 1)
    with tutor_server(tmp_path, token=TOKEN, env=env) as srv:  # serve.model default: registry:production
        assert call(srv, "GET", "/health", token=None)[2]["model"] == f"tutorforge-tutor:{version}"
    cached = tmp_path / ".cache" / "serve" / "tutorforge-tutor" / version
    chunks = cached / "index" / "chunks.jsonl"
    good = chunks.read_bytes()
    chunks.write_bytes(good[: len(good) // 2])  # cut short on disk
    with tutor_server(tmp_path, token=TOKEN, env=env) as srv:
        assert call(srv, "GET", "/health", token=None)[2]["index_chunks"] > 100
        assert "differs from its manifest" in srv.log_tail(10**6)
    assert chunks.read_bytes() == good


# ---- chat completions ---------------------------------------------------------------------------------------------------
def client(srv: Server, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=300)


def test_chat_completion_answers_with_usage_and_cites_the_page(server: Server):
    resp = client(server).chat.completions.create(
        model="bundle",
        messages=[{"role": "user", "content": "What does a plant cell's vacuole contain?"}],
        max_tokens=48,
    )
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    answer, _, sources = choice.message.content.partition("\n\nSources: ")
    assert len(answer.split()) >= 3 and "biology.pdf p. " in sources, choice.message.content
    assert resp.usage.prompt_tokens > 10 and 0 < resp.usage.completion_tokens <= 48
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    cites = resp.model_extra["citations"]
    assert (
        cites and cites[0]["file"] == "biology.pdf" and {"page", "page_label", "heading", "chunk_id"} <= set(cites[0])
    )
    assert f"p. {cites[0]['page']}" in sources
    again = client(server).chat.completions.create(
        model="bundle",
        messages=[{"role": "user", "content": "What does a plant cell's vacuole contain?"}],
        max_tokens=48,
    )
    assert again.choices[0].message.content == choice.message.content  # greedy: the same question, the same reply


def test_streamed_completion_arrives_in_pieces_and_ends_with_usage(server: Server):
    stream = client(server).chat.completions.create(
        model="bundle",
        messages=[{"role": "user", "content": "Explain what kinetic energy is."}],
        max_tokens=40,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, used = [], None, None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            used = chunk.usage
    text = "".join(pieces)
    assert sum(bool(p) for p in pieces) >= 5 and finish in ("stop", "length")  # streamed, not one blob
    assert "\n\nSources: physics.pdf p. " in text and used and 0 < used.completion_tokens <= 40


def test_socratic_mode_changes_the_system_prompt(server: Server):
    q = [{"role": "user", "content": "Just tell me: what is the formula for density?"}]
    direct = client(server).chat.completions.create(
        model="bundle", messages=q, max_tokens=24, extra_body={"mode": "direct"}
    )
    socratic = client(server).chat.completions.create(
        model="bundle", messages=q, max_tokens=24, extra_body={"mode": "socratic"}
    )
    assert socratic.usage.prompt_tokens != direct.usage.prompt_tokens  # another system prompt went in


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "n: only 1"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}, 400, "max_tokens: 100000 > 512"),
        ({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-9"}, 400, "model: 'gpt-9' is not served"),
        ({"messages": [{"role": "user", "content": "hi"}], "subject": "astrology"}, 400, "subject: 'astrology'"),
        ({"messages": [{"role": "system", "content": "be brief"}]}, 400, "no user message"),
        ({"messages": []}, 422, "body.messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 422, "body.messages.0.role"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 422, "body.max_tokens"),
        ({"prompt": "hi"}, 422, "body.messages"),
    ],
    ids=["n", "max-tokens", "model", "subject", "no-user", "empty", "role", "zero-tokens", "no-messages"],
)
def test_bad_chat_requests_get_4xx_in_the_openai_shape(server: Server, body: dict, status: int, message: str):
    code, _, answer = call(server, "POST", "/v1/chat/completions", body=json.dumps(body).encode())
    assert code == status and message in answer["error"]["message"], answer


def test_concurrent_requests_all_finish(server: Server):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["What is a cell?", "What is an acid?", "What is a force?", "What is a fraction?"] * 2

    def ask(q: str) -> str:
        r = client(server).chat.completions.create(
            model="bundle", messages=[{"role": "user", "content": q}], max_tokens=24
        )
        return r.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, questions))
    assert all(len(a.split()) >= 3 for a in answers)
    assert answers[:4] == answers[4:]  # batched with others, each reply is still its own greedy answer
    assert call(server, "GET", "/health", token=None)[2]["in_flight"] == 0


def test_a_killed_stream_frees_its_slot_and_memory(server: Server):
    import psutil

    def killed_stream() -> None:
        url = urllib.parse.urlsplit(server.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        body = {
            "messages": [{"role": "user", "content": "Write a long essay about cells."}],
            "max_tokens": 400,
            "stream": True,
        }
        hdrs = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request("POST", "/v1/chat/completions", json.dumps(body), hdrs)
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.readline().startswith(b"data: ")  # the stream has started
        conn.sock.close()  # the client goes away mid-answer

    def settled() -> int:
        for _ in range(100):
            if (n := call(server, "GET", "/health", token=None)[2]["in_flight"]) == 0:
                return n
            time.sleep(0.2)
        return n

    def cancelled() -> float:
        text = call(server, "GET", "/metrics")[2]
        return float(re.search(r"^tutorforge_chat_cancelled (\S+)$", text, re.M).group(1))

    proc = psutil.Process(server.proc.pid)
    before = cancelled()
    killed_stream()
    assert settled() == 0 and cancelled() == before + 1  # cut short, not run to its 400 tokens
    # the KV cache is reserved up front but its pages become resident as first written: warm it up, then measure
    for _ in range(6):
        killed_stream()
    assert settled() == 0 and cancelled() == before + 7

    def private() -> int:  # resident memory not backed by files (the model's weights are mmapped: paged in lazily)
        m = proc.memory_info()
        return m.rss - m.shared

    mem = [private()]
    for _ in range(4):
        for _ in range(4):
            killed_stream()
        settled()
        mem.append(private())
    print("private MB", [m >> 20 for m in mem])
    assert settled() == 0 and cancelled() == before + 23
    assert mem[-1] - mem[1] < 48 * 2**20, [m >> 20 for m in mem]  # abandoned answers leave nothing behind
    r = client(server).chat.completions.create(
        model="bundle", messages=[{"role": "user", "content": "What is a cell?"}], max_tokens=8
    )
    assert r.choices[0].message.content  # and the server still answers


def test_answers_to_the_benchmark_retrieval_questions_cite_the_page_that_holds_the_answer(server: Server, sample: Path):
    from concurrent.futures import ThreadPoolExecutor

    pages = {(p["file"], p["page"]): squash(p["text"]) for p in read_jsonl(sample / "ingest" / "pages.jsonl")}
    grounded = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1").items("grounded")

    def ask(item: dict) -> list[dict]:
        msgs = [{"role": "user", "content": item["question"]}]
        return (
            client(server)
            .chat.completions.create(model="bundle", messages=msgs, max_tokens=48)
            .model_extra["citations"]
        )

    with ThreadPoolExecutor(8) as pool:
        cited = list(pool.map(ask, grounded))
    first = [
        squash(it["evidence"]) in pages[(c[0]["file"], c[0]["page"])] for it, c in zip(grounded, cited, strict=True)
    ]
    assert sum(first) / len(grounded) >= 0.9, sum(first)  # the first cited page holds the answer's evidence
    # the measure can say "bad": the pages cited for another question's answer hold this answer far less often
    shifted = [
        squash(it["evidence"]) in pages[(c[0]["file"], c[0]["page"])]
        for it, c in zip(grounded, cited[1:] + cited[:1], strict=True)
    ]
    assert sum(shifted) / len(grounded) <= 0.3


# ---- sessions -------------------------------------------------------------------------------------------------------------
def chat(srv: Server, **body) -> dict:
    status, headers, answer = call(srv, "POST", "/chat", body=json.dumps(body).encode())
    assert status == 200, answer
    return answer


def test_a_conversation_continues_across_a_server_restart(sample: Path, tmp_path: Path):
    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    with tutor_server(tmp_path, "--model", str(bundle), token=TOKEN) as srv:
        first = chat(srv, message="What is osmosis?", mode="socratic", subject="biology", max_tokens=24)
        sid = first["session_id"]
        assert first["reply"] and first["citations"][0]["file"] == "biology.pdf"
        second = chat(srv, session_id=sid, message="Is it about water?", max_tokens=24)
        assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + 10  # the first turn went in
    with tutor_server(tmp_path, "--model", str(bundle), token=TOKEN) as srv:  # a new process, the same database
        status, _, history = call(srv, "GET", f"/chat/{sid}")
        assert status == 200 and history["mode"] == "socratic" and history["subject"] == "biology"
        assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2
        assert history["messages"][0]["content"] == "What is osmosis?"
        assert history["messages"][3]["content"] == second["reply"] and history["messages"][3]["citations"]
        third = chat(srv, session_id=sid, message="So water moves?", max_tokens=16)
        assert third["usage"]["prompt_tokens"] > second["usage"]["prompt_tokens"]
        # a streamed turn is stored once it is complete, with what was streamed
        url = urllib.parse.urlsplit(srv.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        hdrs = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request(
            "POST", "/chat", json.dumps({"session_id": sid, "message": "Why?", "stream": True, "max_tokens": 16}), hdrs
        )
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("X-Session-Id") == sid
        events = [line for line in resp.read().decode().splitlines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        streamed = "".join(
            (c.get("delta") or {}).get("content") or ""
            for e in events[:-1]
            for c in json.loads(e[6:]).get("choices") or []
        )
        stored = call(srv, "GET", f"/chat/{sid}")[2]["messages"]
        assert len(stored) == 8 and stored[-1]["content"] == streamed and stored[-2]["content"] == "Why?"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"session_id": "x' OR '1'='1", "message": "hi"}, 422, "not a session id"),
        ({"session_id": "A" * 22, "message": "hi"}, 404, "no session"),
        ({"message": ""}, 422, "body.message"),
        ({"message": "hi", "mode": "lecture"}, 422, "body.mode"),
        ({"message": "hi", "subject": "astrology"}, 400, "subject: 'astrology'"),
        ({"message": "hi", "role": "system"}, 422, "body.role"),
    ],
    ids=["injection-id", "unknown-id", "empty", "mode", "subject", "extra-field"],
)
def test_bad_session_requests_are_refused(server: Server, body: dict, status: int, message: str):
    import sqlite3

    db = server.log_path.parent / ".cache" / "serve" / "sessions.sqlite"  # the server's cwd holds its database
    count = lambda: sqlite3.connect(db).execute("SELECT COUNT(*) FROM sessions").fetchone()[0]  # noqa: E731
    chat(server, message="What is a cell?", max_tokens=2)  # the database exists
    before = count()
    code, _, answer = call(server, "POST", "/chat", body=json.dumps(body).encode())
    assert code == status and message in answer["error"]["message"], answer
    assert count() == before  # a refused message leaves no session behind
    assert call(server, "GET", "/chat/..%2F..%2Fetc")[0] in (404, 422)


# ---- tools offered by the client (OpenAI semantics: the client runs them) ------------------------------------------------
HEART_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "show_3d_model", "arguments": '{"model_id": "human_heart"}'},
}
ATOM_CALL = {
    "id": "call_2",
    "type": "function",
    "function": {"name": "show_3d_model", "arguments": '{"model_id": "atom_bohr"}'},
}
# A conversation in which the tutor already called tools and the student asks for the first model again: the untuned
# SmolLM2 of these tests repeats the call (choosing tools well is the SFT model's part, measured by evaluate); what is
# tested here is the path of a call through the server into OpenAI's shapes.
FEW_SHOT = [
    {"role": "user", "content": "Show me the human heart in 3D."},
    {"role": "assistant", "content": None, "tool_calls": [HEART_CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"model_id": "human_heart", "status": "displayed"}'},
    {"role": "assistant", "content": "Here is the heart. What do you notice about its four chambers?"},
    {"role": "user", "content": "Show me the atom in 3D."},
    {"role": "assistant", "content": None, "tool_calls": [ATOM_CALL]},
    {"role": "tool", "tool_call_id": "call_2", "content": '{"model_id": "atom_bohr", "status": "displayed"}'},
    {"role": "assistant", "content": "Here is the atom. Where are its electrons?"},
    {"role": "user", "content": "Show me the human heart in 3D."},
]


def test_a_call_of_an_offered_tool_comes_back_as_openai_tool_calls(server: Server):
    from tutorforge.tools.specs import DEFAULT_CATALOGUE, openai_tools, validate_call

    tools = openai_tools(DEFAULT_CATALOGUE)
    resp = client(server).chat.completions.create(model="bundle", messages=FEW_SHOT, tools=tools, max_tokens=48)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None, choice
    [call] = choice.message.tool_calls
    args = json.loads(call.function.arguments)
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "show_3d_model"
    assert validate_call({"name": call.function.name, "arguments": args}, DEFAULT_CATALOGUE) == []
    assert args == {"model_id": "human_heart"}
    # streamed: the call arrives as tool_calls deltas the openai client reads
    stream = client(server).chat.completions.create(
        model="bundle", messages=FEW_SHOT, tools=tools, max_tokens=48, stream=True
    )
    deltas, finish = [], None
    for chunk in stream:
        if chunk.choices:
            deltas += chunk.choices[0].delta.tool_calls or []
            finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and [d.function.name for d in deltas] == ["show_3d_model"]
    assert json.loads(deltas[0].function.arguments) == args
    # tool_choice "none": the same request is answered in words
    plain = client(server).chat.completions.create(
        model="bundle", messages=FEW_SHOT, tools=tools, tool_choice="none", max_tokens=24
    )
    assert plain.choices[0].finish_reason != "tool_calls" and not plain.choices[0].message.tool_calls


# ---- the tutor's own tools (serve.tutor_tools: the server runs them) ---------------------------------------------------
def test_the_tutor_runs_its_own_tool_and_answers_the_result(server: Server):
    resp = client(server).chat.completions.create(model="bundle", messages=FEW_SHOT, max_tokens=24)
    body = resp.model_dump()
    [ran] = body["tool_results"]  # executed here: the catalogue entry with its asset and animations
    assert ran["name"] == "show_3d_model" and ran["arguments"] == {"model_id": "human_heart"}
    assert ran["result"]["asset"] == "models/human_heart.glb" and "blood_flow" in ran["result"]["animations"]
    choice = resp.choices[0]
    assert choice.finish_reason != "tool_calls" and not choice.message.tool_calls
    assert "tool_call" not in (choice.message.content or "") and '"model_id"' not in (choice.message.content or "")
    # the reply answers the result: its prompt holds the call and the result, so it is longer than the question's
    plain = client(server).chat.completions.create(model="bundle", messages=FEW_SHOT, max_tokens=24, tool_choice="none")
    assert "tool_results" not in plain.model_dump() or not plain.model_dump()["tool_results"]
    assert resp.usage.prompt_tokens > plain.usage.prompt_tokens
    # streamed: the tool's result arrives in its own chunk before the reply's text
    stream = client(server).chat.completions.create(model="bundle", messages=FEW_SHOT, max_tokens=24, stream=True)
    order = []
    for chunk in stream:
        extra = chunk.model_dump()
        if extra.get("tool_results"):
            order.append(("tools", extra["tool_results"][0]["result"]["model_id"]))
        if chunk.choices and chunk.choices[0].delta.content:
            order.append(("text", ""))
    assert order and order[0] == ("tools", "human_heart"), order


def test_the_tool_gate_stops_a_call_the_request_does_not_read_like(sample: Path, tmp_path: Path):
    # the bundle's training split says a message like this one was a plain question: the call is not run
    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    (bundle / "dataset" / "sft").mkdir(parents=True)
    plain = {"kind": "qa", "messages": [{"role": "user", "content": "Show me the human heart in 3D."}]}
    heart = dict(role="assistant", content="", tool_calls=[{"name": "show_3d_model", "arguments": {"model_id": "x"}}])
    asked = {"kind": "tool_call", "messages": [{"role": "user", "content": "Quiz me on acids, please."}, heart]}
    (bundle / "dataset" / "sft" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (plain, asked)))
    with tutor_server(tmp_path, "--model", str(bundle), token=TOKEN) as srv:
        resp = client(srv).chat.completions.create(model="bundle", messages=FEW_SHOT, max_tokens=8)
        assert not resp.model_dump().get("tool_results")
        assert "tool gate: the request reads like a question, no tool step" in srv.log_tail(10**6)


def test_a_question_that_needs_no_tool_is_answered_as_without_the_tool_step(server: Server):
    messages = [{"role": "user", "content": "What does the cell membrane control?"}]
    with_step = client(server).chat.completions.create(model="bundle", messages=messages, max_tokens=24)
    without = client(server).chat.completions.create(
        model="bundle", messages=messages, max_tokens=24, tool_choice="none"
    )
    assert not with_step.model_dump().get("tool_results")
    assert with_step.choices[0].message.content == without.choices[0].message.content  # greedy: the same answer
    assert with_step.usage == without.usage


def test_tools_the_tutor_does_not_know_are_refused(server: Server):
    weather = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with pytest.raises(openai.BadRequestError, match="get_weather"):
        client(server).chat.completions.create(model="bundle", messages=FEW_SHOT, tools=weather, max_tokens=8)
    bad = FEW_SHOT[:1] + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{**HEART_CALL, "function": {"name": "show_3d_model", "arguments": "{not json"}}],
        }
    ]
    bad += [{"role": "user", "content": "again"}]
    status, _, body = call(server, "POST", "/v1/chat/completions", body=json.dumps({"messages": bad}).encode())
    assert status == 400 and "not JSON" in body["error"]["message"]


def test_a_prompt_too_long_for_the_context_is_refused_and_a_stored_conversation_drops_old_turns(
    sample: Path, tmp_path: Path
):
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["serve"]["cb_num_blocks"] = 8  # a KV cache of 8 x 256 tokens: a 2048-token context (SmolLM2 has 8192)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    long_text = "Cells divide to make new cells, and each new cell grows before it divides again. " * 70  # ~1200 tokens
    with tutor_server(tmp_path, "--model", str(bundle), token=TOKEN, params=tmp_path / "params.yaml") as srv:
        first = chat(srv, message=long_text + " What is this about?", max_tokens=4)
        assert first["usage"]["prompt_tokens"] > 1000
        second = chat(srv, session_id=first["session_id"], message=long_text + " And again?", max_tokens=4)
        assert 1000 < second["usage"]["prompt_tokens"] <= 2048 - 4  # the first turn gave way
        assert len(call(srv, "GET", f"/chat/{first['session_id']}")[2]["messages"]) == 4  # but stays stored
        both = [{"role": "user", "content": long_text}, {"role": "assistant", "content": "Yes."}]
        body = json.dumps({"messages": [*both, {"role": "user", "content": long_text}], "max_tokens": 4}).encode()
        status, _, answer = call(srv, "POST", "/v1/chat/completions", body=body)
        assert status == 400 and "exceeds the model's context of 2048" in answer["error"]["message"], answer
