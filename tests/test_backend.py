"""serve.backend openai for real: two `tutorforge serve` processes chained (B's model backend is A's
/v1/completions, as vLLM's would be on a GPU), a lying completions server behind a third, and sky/serve.yaml.

- A (in-process backend) answers /v1/completions: a prompt or token ids, whole or streamed, its limits;
- B answers chats through A exactly as A does (greedy: the same prompt ids give the same text, citations, usage),
  a client leaving B cancels the request on A, and B stays up with a one-line 503 when A dies;
- C, behind the lying server, turns every broken answer into a 502 (429 for the server's 429) in seconds, never
  hangs, and never sends its key anywhere but the backend's origin (nor echoes it back);
- start-up refuses a backend that refuses the key or does not serve backend_model, in one line.
"""

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
import yaml

from tests.support.bundles import make_bundle, smollm2
from tests.support.lying_completions import MODEL as LIAR_MODEL
from tests.support.lying_completions import Liar, lying_completions
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import VENV_BIN, Server, tutor_server

TOKEN_A = "tutor-a-token-1f9c2e7d5b3a4c68"  # A's bearer token: B's backend key
TOKEN_B = "tutor-b-token-8e4d2a6c0b9f1e37"
LIAR_KEY = "liar-backend-key-3c7a9e1f5d2b4a60"
KEY_ENV = "TUTORFORGE_BACKEND_API_KEY"
QUESTION = [{"role": "user", "content": "What does a plant cell's vacuole contain?"}]


def write_params(path: Path, **serve: object) -> Path:
    """A copy of params.yaml with these [serve] settings."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["serve"].update(serve)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def client(srv: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=300)


def call(srv: Server, method: str, path: str, token: str | None, body: dict | None = None) -> tuple[int, object]:
    url = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, (json.loads(data) if data.startswith("{") else data)


def events(text: str) -> list[object]:
    """The data of each server-sent event ("[DONE]" as a string)."""
    return [e[6:] if e[6:] == "[DONE]" else json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: ")]


def one_line_error(body: object, status: int) -> str:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert error["type"] == ("rate_limit_error" if status == 429 else "server_error"), error
    assert "\n" not in error["message"] and len(error["message"]) < 300, error
    return error["message"]


def metric(srv: Server, token: str, name: str) -> float:
    status, text = call(srv, "GET", "/metrics", token)
    assert status == 200
    return float(re.search(rf"^{name} (\S+)$", str(text), re.M).group(1))


def in_flight_settles(srv: Server) -> int:
    n = -1
    for _ in range(100):
        if (n := call(srv, "GET", "/health", None)[1]["in_flight"]) == 0:
            return n
        time.sleep(0.2)
    return n


def stream_and_leave(srv: Server, token: str, body: dict) -> str:
    """POST a streamed request, read until the first piece of text, and hang up; returns that text."""
    url = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    hdrs = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request("POST", "/v1/chat/completions", json.dumps({**body, "stream": True}), hdrs)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    while True:
        line = resp.readline()
        assert line, "the stream ended before any text"
        if line.startswith(b"data: {") and (text := json.loads(line[6:])["choices"][0]["delta"].get("content")):
            break
    conn.sock.close()  # the client goes away mid-answer
    return text


# ---- fixtures: A (in process), B (backend A), the liar and C (backend the liar) -----------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = build_sample_index(tmp_path_factory.mktemp("sample"))
    return make_bundle(tmp_path_factory.mktemp("bundle") / "bundle", sample / "index")


@pytest.fixture(scope="module")
def server_a(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("a")
    with tutor_server(work, "--model", str(bundle), token=TOKEN_A) as srv:
        yield srv


@pytest.fixture(scope="module")
def server_b(bundle: Path, server_a: Server, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("b")
    params = write_params(work / "params.yaml", backend="openai", backend_url=server_a.url + "/v1")
    with tutor_server(work, "--model", str(bundle), token=TOKEN_B, env={KEY_ENV: TOKEN_A}, params=params) as srv:
        yield srv


@pytest.fixture(scope="module")
def liar(tmp_path_factory: pytest.TempPathFactory):
    with lying_completions(tmp_path_factory.mktemp("liar"), key=LIAR_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server_c(bundle: Path, liar: Liar, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("c")
    params = write_params(work / "params.yaml", backend="openai", backend_url=liar.url, backend_timeout_s=2)
    with tutor_server(work, "--model", str(bundle), token=TOKEN_B, env={KEY_ENV: LIAR_KEY}, params=params) as srv:
        yield srv


# ---- settings ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"backend": "vllm"}, "serve.backend: 'vllm' not in"),
        ({"backend": "openai"}, "serve.backend_url: required when serve.backend is openai"),
        ({"backend": "openai", "backend_url": "ftp://host/v1"}, "serve.backend_url: 'ftp://host/v1' is not an http"),
        ({"backend_url": "http://user:pw@host/v1"}, "serve.backend_url: no credentials in the URL"),
        ({"backend_url": "http://host/v1?key=1"}, "serve.backend_url: 'http://host/v1?key=1': a base URL has no query"),
        ({"backend_timeout_s": 0}, "serve.backend_timeout_s"),
    ],
    ids=["backend", "no-url", "scheme", "credentials", "query", "timeout"],
)
def test_backend_settings_are_checked_naming_the_key(tmp_path: Path, serve: dict, message: str):
    from tutorforge.core.config import ParamsError, load_config
    from tutorforge.serve.config import ServeConfig

    with pytest.raises(ParamsError, match=re.escape(message)):
        load_config(ServeConfig, "serve", write_params(tmp_path / "params.yaml", **serve))


# ---- A: /v1/completions on the in-process engine -------------------------------------------------------------------------
def test_completions_take_text_or_token_ids_whole_or_streamed(server_a: Server):
    from tutorforge.training.models import load_tokenizer

    a = client(server_a, TOKEN_A)
    text = a.completions.create(model="bundle", prompt="The cell membrane controls", max_tokens=12)
    choice = text.choices[0]
    assert text.object == "text_completion" and choice.finish_reason in ("stop", "length") and choice.text.strip()
    ids = load_tokenizer(smollm2())("The cell membrane controls")["input_ids"]
    assert 0 < text.usage.completion_tokens <= 12 and text.usage.prompt_tokens == len(ids)
    by_ids = a.completions.create(model="bundle", prompt=ids, max_tokens=12)
    assert by_ids.choices[0].text == choice.text  # greedy: the same ids, the same text
    pieces, finish, used = [], None, None
    for chunk in a.completions.create(
        model="bundle", prompt=ids, max_tokens=12, stream=True, stream_options={"include_usage": True}
    ):
        if chunk.choices:
            pieces.append(chunk.choices[0].text)
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            used = chunk.usage
    assert sum(bool(p) for p in pieces) >= 3 and "".join(pieces) == choice.text  # streamed in pieces, the same text
    assert finish == choice.finish_reason and used.completion_tokens == text.usage.completion_tokens
    status, raw = call(server_a, "POST", "/v1/completions", TOKEN_A, {"prompt": ids, "max_tokens": 4, "stream": True})
    assert status == 200 and events(str(raw))[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"prompt": "hi", "max_tokens": 100000}, 400, "max_tokens: 100000 > 512"),
        ({"prompt": [1] * 8185, "max_tokens": 8}, 400, "prompt: 8185 tokens; with max_tokens 8 it exceeds the model's"),
        ({"prompt": [1, 10**9]}, 400, "prompt: token id 1000000000 is not in the vocabulary"),
        ({"prompt": ["a", "b"]}, 400, "prompt: one prompt per request"),
        ({"prompt": ""}, 400, "prompt: empty"),
        ({"prompt": "hi", "stop": ["\n"]}, 400, "stop: stop sequences are not supported"),
        ({"prompt": "hi", "model": "gpt-9"}, 400, "model: 'gpt-9' is not served here"),
        ({"prompt": "hi", "n": 2}, 400, "n: only 1"),
        ({"max_tokens": 4}, 422, "body.prompt"),
    ],
    ids=["max-tokens", "context", "vocab", "batch", "empty", "stop", "model", "n", "no-prompt"],
)
def test_bad_completion_requests_get_4xx_in_the_openai_shape(server_a: Server, body: dict, status: int, message: str):
    code, answer = call(server_a, "POST", "/v1/completions", TOKEN_A, body)
    assert code == status and message in answer["error"]["message"], answer
    assert call(server_a, "POST", "/v1/completions", None, {"prompt": "hi"})[0] == 401


# ---- B: the tutor through A ---------------------------------------------------------------------------------------------
def test_b_answers_through_a_exactly_as_a_does(server_a: Server, server_b: Server):
    a, b = client(server_a, TOKEN_A), client(server_b, TOKEN_B)
    direct = a.chat.completions.create(model="bundle", messages=QUESTION, max_tokens=40)
    remote = b.chat.completions.create(model="bundle", messages=QUESTION, max_tokens=40)
    content = remote.choices[0].message.content
    assert content == direct.choices[0].message.content and "\n\nSources: biology.pdf p. " in content, content
    assert remote.model_extra["citations"] == direct.model_extra["citations"] and remote.model_extra["citations"]
    assert remote.usage == direct.usage and remote.choices[0].finish_reason == direct.choices[0].finish_reason

    def streamed(c: openai.OpenAI) -> tuple[str, int, object]:
        pieces, n, used = [], 0, None
        stream = c.chat.completions.create(
            model="bundle", messages=QUESTION, max_tokens=40, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if chunk.choices:
                n += bool(chunk.choices[0].delta.content)
                pieces.append(chunk.choices[0].delta.content or "")
            used = chunk.usage or used
        return "".join(pieces), n, used

    (text_b, n_b, used_b), (text_a, _, used_a) = streamed(b), streamed(a)
    assert text_b == text_a and n_b >= 5 and used_b == used_a, (text_a, text_b)
    assert "\n\nSources: biology.pdf p. " in text_b
    status, health = call(server_b, "GET", "/health", None)
    assert status == 200 and health["status"] == "ok" and health["model"] == "bundle" and health["in_flight"] == 0
    assert [m.id for m in b.models.list()] == ["bundle"]
    # B's own /v1/completions goes through A too: the same text A gives
    prompt = "Photosynthesis is"
    assert (
        b.completions.create(model="bundle", prompt=prompt, max_tokens=8).choices[0].text
        == a.completions.create(model="bundle", prompt=prompt, max_tokens=8).choices[0].text
    )
    # a stored conversation (POST /chat), streamed through B, is stored as it was streamed
    url = urllib.parse.urlsplit(server_b.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    hdrs = {"Authorization": f"Bearer {TOKEN_B}", "Content-Type": "application/json"}
    conn.request("POST", "/chat", json.dumps({"message": "What is osmosis?", "stream": True, "max_tokens": 16}), hdrs)
    resp = conn.getresponse()
    sid, sent = resp.getheader("X-Session-Id"), events(resp.read().decode())
    assert resp.status == 200 and sent[-1] == "[DONE]", sent
    said = "".join(c["delta"].get("content") or "" for e in sent[:-1] for c in e.get("choices") or [])
    status, history = call(server_b, "GET", f"/chat/{sid}", TOKEN_B)
    assert status == 200 and history["messages"][-1]["content"] == said and "Sources: biology.pdf" in said
    assert TOKEN_A not in server_b.log_tail(10**7) and TOKEN_B not in server_b.log_tail(10**7)


def test_a_client_leaving_b_cancels_the_request_on_a(server_a: Server, server_b: Server):
    before_a = metric(server_a, TOKEN_A, "tutorforge_chat_cancelled")
    before_b = metric(server_b, TOKEN_B, "tutorforge_chat_cancelled")
    body = {"messages": [{"role": "user", "content": "Write a long essay about cells."}], "max_tokens": 400}
    assert stream_and_leave(server_b, TOKEN_B, body | {"tool_choice": "none"})
    assert in_flight_settles(server_b) == 0 and in_flight_settles(server_a) == 0
    assert metric(server_a, TOKEN_A, "tutorforge_chat_cancelled") == before_a + 1  # A stopped: not 400 tokens
    assert metric(server_b, TOKEN_B, "tutorforge_chat_cancelled") == before_b + 1


# ---- C: a backend that lies -------------------------------------------------------------------------------------------
def test_c_sends_what_vllm_expects_and_its_key_only_to_the_backend(liar: Liar, server_c: Server):
    liar.set_mode("ok")
    resp = client(server_c, TOKEN_B).chat.completions.create(
        model="bundle", messages=QUESTION, max_tokens=20, extra_body={"tool_choice": "none"}
    )
    assert resp.choices[0].message.content.startswith("Cells are the units of life.\n\nSources: ")
    assert resp.usage.completion_tokens == 7
    seen = liar.seen()["requests"]
    assert {"port": "main", "path": "/v1/models", "auth": f"Bearer {LIAR_KEY}", "body": None} in seen  # start-up
    sent = [r for r in seen if r["path"] == "/v1/completions"][-1]
    body = sent["body"]
    assert sent["auth"] == f"Bearer {LIAR_KEY}" and sent["port"] == "main"
    assert set(body) == {"model", "prompt", "max_tokens", "temperature", "stream", "stream_options"}
    assert body["model"] == LIAR_MODEL and body["max_tokens"] == 20 and body["temperature"] == 0
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert all(isinstance(t, int) for t in body["prompt"]) and len(body["prompt"]) == resp.usage.prompt_tokens


# mode -> (status of a whole request, status of a streamed one (200: the stream started, then an error event), message)
LIES = {
    "garbage": (502, 502, "an event that is not JSON"),
    "no_done": (502, 200, "ended before [DONE]"),
    "hang": (502, 200, "did not answer for 2s"),
    "trickle": (502, 502, "no complete event for 2s"),
    "overlong": (502, 200, "sent more than max_tokens"),
    "lying_usage": (502, 200, "usage.completion_tokens 1000000"),
    "after_finish": (502, 200, "text after its finish_reason"),
    "json": (502, 502, "answered application/json, not an event stream"),
    "error": (502, 502, "answered HTTP 500: internal trouble; you sent Bearer ***"),
    "busy": (429, 429, "the model backend is busy (429)"),
    "redirect": (502, 502, "answered 307 (a redirect: not followed)"),
}


@pytest.mark.parametrize("mode", list(LIES))
def test_a_lying_backend_gets_a_one_line_error_in_seconds(liar: Liar, server_c: Server, mode: str):
    whole_status, stream_status, message = LIES[mode]
    liar.set_mode(mode)
    body = {"messages": QUESTION, "max_tokens": 20, "tool_choice": "none"}
    t0 = time.monotonic()
    status, answer = call(server_c, "POST", "/v1/chat/completions", TOKEN_B, body)
    assert status == whole_status and message in one_line_error(answer, status), answer
    status, answer = call(server_c, "POST", "/v1/chat/completions", TOKEN_B, body | {"stream": True})
    if stream_status == 200:  # the answer had begun: it ends with an OpenAI error event instead of [DONE]
        sent = events(str(answer))
        assert status == 200 and sent[-1] != "[DONE]" and message in one_line_error(sent[-1], 502), sent
        with pytest.raises(openai.APIError, match=re.escape(message)):
            for _ in client(server_c, TOKEN_B).chat.completions.create(
                model="bundle", messages=QUESTION, max_tokens=20, stream=True, extra_body={"tool_choice": "none"}
            ):
                pass
    else:
        assert status == stream_status and message in one_line_error(answer, status), answer
    assert time.monotonic() - t0 < 30  # the 2 s backend_timeout_s, never a hang
    assert LIAR_KEY not in json.dumps(answer)
    assert in_flight_settles(server_c) == 0 and call(server_c, "GET", "/health", None)[0] == 200


def test_the_key_never_left_the_backend_origin_and_c_stayed_up(liar: Liar, server_c: Server):
    liar.set_mode("ok")
    assert client(server_c, TOKEN_B).chat.completions.create(model="bundle", messages=QUESTION, max_tokens=8).choices
    seen = liar.seen()["requests"]
    assert [r for r in seen if r["port"] == "elsewhere"] == []  # the redirect was not followed
    assert all(r["auth"] == f"Bearer {LIAR_KEY}" for r in seen)  # and C sent its key with every request
    log = server_c.log_tail(10**7)
    assert LIAR_KEY not in log and "Traceback" not in log, log[-3000:]


def test_a_client_leaving_c_closes_the_backend_stream(liar: Liar, server_c: Server):
    liar.set_mode("slow")  # a piece every 0.05 s up to max_tokens: 20 s for 400
    before = len(liar.seen()["left"])
    body = {"messages": QUESTION, "max_tokens": 400, "tool_choice": "none"}
    assert stream_and_leave(server_c, TOKEN_B, body) == "cell"
    left: list[int] = []
    for _ in range(50):
        if left := liar.seen()["left"][before:]:
            break
        time.sleep(0.2)
    assert left and left[0] < 200, left  # the server saw its client go, long before the 400th piece
    assert in_flight_settles(server_c) == 0


def run_serve(cwd: Path, params: Path, bundle: Path, key: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV} | {"TUTORFORGE_API_TOKEN": TOKEN_B, KEY_ENV: key}
    cmd = [str(VENV_BIN / "tutorforge"), "serve", "--params", str(params), "--model", str(bundle)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_start_up_refuses_a_backend_that_refuses_the_key_or_lacks_the_model(liar: Liar, bundle: Path, tmp_path: Path):
    params = write_params(tmp_path / "params.yaml", backend="openai", backend_url=liar.url)
    wrong = run_serve(tmp_path, params, bundle, "not-the-key-5e1d")
    err = wrong.stderr.strip()
    assert (
        wrong.returncode == 1
        and len(err.splitlines()) == 1
        and "the server refused the key in TUTORFORGE_BACKEND_API_KEY (HTTP 401)" in err
    ), err
    assert "not-the-key-5e1d" not in err
    params = write_params(tmp_path / "params.yaml", backend="openai", backend_url=liar.url, backend_model="nope")
    missing = run_serve(tmp_path, params, bundle, LIAR_KEY)
    err = missing.stderr.strip()
    assert missing.returncode == 1 and len(err.splitlines()) == 1 and "serve.backend_model 'nope' is not served" in err


# ---- sky/serve.yaml -----------------------------------------------------------------------------------------------------
def test_the_vllm_task_yaml_passes_our_checks():
    from tutorforge.orchestration.skypilot import SKY_PYTHON, check_task, sky_validate

    path = ROOT / "sky" / "serve.yaml"
    task = yaml.safe_load(path.read_text())
    assert check_task(path, ROOT / "params.yaml", ROOT / "dvc.yaml") == []
    assert task["secrets"] == {
        "TUTORFORGE_BACKEND_API_KEY": None,
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
    }
    assert re.search(r'pip install --quiet "vllm==\d+\.\d+\.\d+"', task["setup"])
    run = task["run"]
    assert "tutorforge registry download" in run and "vllm serve ~/tutor-model/sft/merged" in run
    assert "--host 127.0.0.1 --port 8001" in run and 'VLLM_API_KEY="$TUTORFORGE_BACKEND_API_KEY"' in run
    assert "--api-key" not in run.split("exec ", 1)[1]  # the key stays out of the node's process list
    assert 'backend_url: "http://127.0.0.1:8001/v1"' in path.read_text()
    for script in (task["setup"], run):
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    if SKY_PYTHON.exists():
        ok, out = sky_validate([path])
        assert ok, out


# ---- last: A dies -------------------------------------------------------------------------------------------------------
def test_b_stays_up_with_a_one_line_503_when_a_dies(server_a: Server, server_b: Server):
    server_a.stop()
    body = {"messages": QUESTION, "max_tokens": 20}
    for stream in (False, True, False):
        status, answer = call(server_b, "POST", "/v1/chat/completions", TOKEN_B, body | {"stream": stream})
        assert status == 503, answer
        assert "the model backend is unavailable" in one_line_error(answer, 503)
        assert answer["error"]["code"] == "backend_unavailable"
    with pytest.raises(openai.InternalServerError) as e:
        client(server_b, TOKEN_B).chat.completions.create(model="bundle", messages=QUESTION, max_tokens=8)
    assert e.value.status_code == 503
    status, health = call(server_b, "GET", "/health", None)
    assert status == 200 and health["in_flight"] == 0 and server_b.alive()
    log = server_b.log_tail(10**7)
    assert "Traceback" not in log and TOKEN_A not in log, log[-3000:]
    assert f"backend {server_a.url}/v1: the model backend is unavailable" in log  # the operator sees why
