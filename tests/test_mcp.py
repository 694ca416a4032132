"""`tutorforge mcp` as a real process, driven over stdio by the official MCP Python SDK's client: the four tools and
their input schemas, results from the real index, quiz items and model (untuned SmolLM2-135M), one-line tool errors
for bad arguments, a one-line exit for a bad --model, nothing but JSON-RPC on stdout, and a clean stop."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp.client.stdio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from tests.support.bundles import make_bundle
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import VENV_BIN
from tutorforge.core.io import read_jsonl, write_jsonl
from tutorforge.eval.benchmark import load_benchmark
from tutorforge.tools.specs import DEFAULT_CATALOGUE

# What a client such as Claude Desktop passes: its own minimal environment (HOME, PATH, ...) plus these.
SERVER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
CURRENT = "4.1 Current, Voltage and Resistance"
MEMBRANE = "1.3 The Cell Membrane"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


def section_ids(index: Path) -> dict[str, str]:
    """Section heading -> section_id in the index (the ids the dataset's records carry)."""
    return {c["heading_path"][-1]: c["section_id"] for c in read_jsonl(index / "chunks.jsonl") if c["heading_path"]}


def sft_record(kind: str, section_id: str, subject: str, question: str, answer: str) -> dict[str, Any]:
    """A held-out SFT record shaped like the dataset stage's (system, user, assistant)."""
    return {
        "example_id": f"{kind}-{abs(hash(question)) % 10**8:08d}",
        "kind": kind,
        "messages": [
            {"role": "system", "content": "You are TutorForge, a patient school tutor. Answer from the textbook."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "meta": {},
        "provenance": {"generator": "deterministic", "section_id": section_id},
        "section_id": section_id,
        "source": "synth:deterministic",
        "split": "test",
        "subject": subject,
    }


def quiz_records(index: Path) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Quiz questions by section heading, and the records: three on electric current, two on the cell membrane, and
    a Socratic dialogue on the membrane that is no quiz question (more than one exchange)."""
    ids = section_ids(index)
    questions = {
        CURRENT: [
            "What is the unit of electric current?",
            "Complete the sentence: the potential difference across a component is _____ with a voltmeter.",
            "A 6 V cell drives a current through a 12 ohm resistor. What current flows?",
        ],
        MEMBRANE: ["What is osmosis?", "Define diffusion."],
    }
    answers = ["The ampere (A).", "measured", "0.5 A", "The diffusion of water across a membrane.", "Net movement."]
    kinds = ["qa", "cloze", "mc", "qa", "definition"]
    subjects = {CURRENT: "physics", MEMBRANE: "biology"}
    flat = [(h, q) for h in questions for q in questions[h]]
    records = [
        sft_record(kind, ids[h], subjects[h], q, a) for (h, q), a, kind in zip(flat, answers, kinds, strict=True)
    ]
    dialogue = sft_record("socratic", ids[MEMBRANE], "biology", "Why does a lettuce go limp in salt?", "What is salt?")
    dialogue["messages"] += [{"role": "user", "content": "Salt?"}, {"role": "assistant", "content": "Think of water."}]
    return questions, [*records, dialogue]


@dataclass
class McpClient:
    """An initialised ClientSession to a `tutorforge mcp` process, called from sync tests through a portal."""

    portal: BlockingPortal
    session: ClientSession
    stderr: Path
    transport_errors: list[Exception] = field(default_factory=list)

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.portal.call(self.session.call_tool, name, arguments, 300)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


@contextlib.contextmanager
def mcp_client(cwd: Path, *args: str) -> Iterator[McpClient]:
    """`tutorforge mcp *args` started by the SDK's stdio_client (stderr to cwd/mcp.stderr), initialised."""
    params = StdioServerParameters(
        command=str(VENV_BIN / "tutorforge"),
        args=["mcp", "--params", str(ROOT / "params.yaml"), *args],
        env=SERVER_ENV,
        cwd=cwd,
    )
    errors: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # a line on stdout that is not JSON-RPC
            errors.append(message)

    stderr = cwd / "mcp.stderr"
    with stderr.open("w") as errlog, start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(stdio_client(params, errlog=errlog)) as (read, write):
            session = ClientSession(read, write, read_timeout_seconds=300, message_handler=on_message)
            with portal.wrap_async_context_manager(session):
                portal.call(session.initialize)  # answered once the model is loaded
                yield McpClient(portal, session, stderr, errors)


@pytest.fixture(scope="module")
def served(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[McpClient, dict[str, list[str]]]]:
    work = tmp_path_factory.mktemp("mcp")
    bundle = make_bundle(work / "bundle", sample / "index")
    questions, records = quiz_records(sample / "index")
    write_jsonl(bundle / "dataset" / "sft" / "test.jsonl", records)
    with pytest.MonkeyPatch.context() as mp:
        # the client closes the server's stdin, then waits this long before SIGTERM (2 s: tight on a busy machine)
        mp.setattr(mcp.client.stdio, "PROCESS_TERMINATION_TIMEOUT", 60.0)
        with mcp_client(work, "--model", str(bundle)) as client:
            yield client, questions
            hung_up = time.monotonic()
        took = time.monotonic() - hung_up
    # stdin closed: the server noticed, stopped its engine (a batching thread left running would keep the process
    # alive until the SIGTERM) and exited on its own; nothing but JSON-RPC reached stdout
    log = client.log()
    assert "mcp: stopped" in log and "Traceback" not in log and took < 45, (took, log[-3000:])
    assert client.transport_errors == []


@pytest.fixture(scope="module")
def client(served: tuple[McpClient, dict[str, list[str]]]) -> McpClient:
    return served[0]


def one_line_error(result: CallToolResult) -> str:
    assert result.is_error, result
    [content] = result.content
    assert content.type == "text" and len(content.text.splitlines()) == 1 and "Traceback" not in content.text
    return content.text


def test_the_four_tools_are_listed_with_their_input_schemas(client: McpClient):
    tools = {t.name: t for t in client.portal.call(client.session.list_tools).tools}
    assert set(tools) == {"search_textbook", "make_quiz", "show_3d_model", "ask_tutor"}
    schema = {name: t.input_schema for name, t in tools.items()}
    assert schema["show_3d_model"]["properties"]["model_id"]["enum"] == sorted(DEFAULT_CATALOGUE)
    assert schema["show_3d_model"]["required"] == ["model_id"]
    n = schema["make_quiz"]["properties"]["n_questions"]
    assert (n["type"], n["minimum"], n["maximum"]) == ("integer", 1, 10)
    assert set(schema["make_quiz"]["required"]) == {"topic", "n_questions"}
    query = schema["search_textbook"]["properties"]["query"]
    assert (query["minLength"], query["maxLength"]) == (2, 200) and schema["search_textbook"]["required"] == ["query"]
    assert schema["ask_tutor"]["required"] == ["question"]
    assert {"mode", "subject", "max_tokens"} <= set(schema["ask_tutor"]["properties"])
    assert all(t.description and "biology" in t.description for n, t in tools.items() if n != "show_3d_model")
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())


def test_search_textbook_finds_the_page_of_the_benchmark_answers(client: McpClient):
    grounded = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1").items("grounded")
    found = 0
    for item in grounded:
        result = client.call("search_textbook", {"query": item["question"]})
        assert not result.is_error, result
        hits = result.structured_content["results"]
        assert len(hits) == 3 and all({"file", "pages", "heading", "snippet", "section_id"} <= set(h) for h in hits)
        found += (item["doc"], item["page"]) in {(h["file"], h["pages"][0]) for h in hits}
        top = hits[0]
        assert f"{top['file']} p. {top['pages'][0]}" in result.content[0].text  # the text names the same pages
    assert found / len(grounded) >= 0.9, found
    physics = client.call("search_textbook", {"query": "What is the unit of electric current?", "subject": "physics"})
    assert {h["file"] for h in physics.structured_content["results"]} == {"physics.pdf"}


def test_make_quiz_draws_the_sections_questions_and_never_more_than_asked(
    served: tuple[McpClient, dict[str, list[str]]], sample: Path
):
    client, questions = served
    ids = section_ids(sample / "index")
    two = client.call("make_quiz", {"topic": "electric current, voltage and resistance", "n_questions": 2})
    assert not two.is_error, two
    quiz = two.structured_content
    assert quiz["sections"][0] == ids[CURRENT] and quiz["asked"] == 2
    assert len(quiz["questions"]) == 2 and {q["question"] for q in quiz["questions"]} <= set(questions[CURRENT])
    assert all(q["answer"] for q in quiz["questions"]) and quiz["questions"][0]["question"] in two.content[0].text
    many = client.call(
        "make_quiz", {"topic": "osmosis through the cell membrane", "n_questions": 10}
    ).structured_content
    asked = [q["question"] for q in many["questions"]]
    assert many["sections"][0] == ids[MEMBRANE] and asked[:2] == questions[MEMBRANE]
    assert len(asked) <= 10 and "Why does a lettuce go limp in salt?" not in asked  # a dialogue is no quiz question
    one = client.call("make_quiz", {"topic": "osmosis", "n_questions": 1, "subject": "biology"}).structured_content
    assert [q["question"] for q in one["questions"]] == questions[MEMBRANE][:1]


def test_show_3d_model_returns_the_asset_and_its_animations(client: McpClient):
    result = client.call("show_3d_model", {"model_id": "human_heart"})
    assert not result.is_error, result
    assert result.structured_content == {
        "model_id": "human_heart",
        "title": "the human heart",
        "subject": "biology",
        "asset": "models/human_heart.glb",
        "animations": ["heartbeat", "blood_flow"],
    }
    assert "models/human_heart.glb" in result.content[0].text


def test_ask_tutor_answers_and_cites_the_textbook(client: McpClient):
    question = {"question": "What does a plant cell's vacuole contain?", "max_tokens": 32}
    result = client.call("ask_tutor", question)
    assert not result.is_error, result
    out = result.structured_content
    answer, _, sources = out["answer"].partition("\n\nSources: ")
    assert len(answer.split()) >= 3 and result.content[0].text == out["answer"]
    assert out["citations"] and out["citations"][0]["file"] == "biology.pdf" and "biology.pdf p. " in sources
    assert out["mode"] == "direct" and 0 < out["usage"]["completion_tokens"] <= 32
    socratic = client.call("ask_tutor", question | {"mode": "socratic", "subject": "biology"}).structured_content
    assert socratic["mode"] == "socratic" and socratic["answer"]
    assert socratic["usage"]["prompt_tokens"] != out["usage"]["prompt_tokens"]  # another system prompt went in


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("show_3d_model", {"model_id": "t_rex"}, "model_id: Input should be 'animal_cell'"),
        ("show_3d_model", {}, "model_id: Field required"),
        ("make_quiz", {"topic": "cells", "n_questions": 0}, "n_questions: Input should be greater than or equal to 1"),
        ("make_quiz", {"topic": "cells", "n_questions": 11}, "n_questions: Input should be less than or equal to 10"),
        ("make_quiz", {"topic": "cells", "n_questions": "three"}, "n_questions: Input should be a valid integer"),
        ("search_textbook", {"query": "x" * 201}, "query: String should have at most 200 characters"),
        ("search_textbook", {"query": "   "}, "search_textbook.query: shorter than 2 characters"),
        ("search_textbook", {"query": "cells", "subject": "astrology"}, "subject: 'astrology' is not one of"),
        ("ask_tutor", {"question": "Why?", "max_tokens": 100000}, "max_tokens: 100000 > 512 (serve.max_tokens)"),
        ("ask_tutor", {"question": "Why?", "subject": "astrology"}, "subject: 'astrology' is not one of"),
        ("ask_tutor", {"question": "Why?", "mode": "lecture"}, "mode: Input should be 'direct' or 'socratic'"),
        ("get_weather", {"city": "Paris"}, "Unknown tool: get_weather"),
    ],
    ids=[
        "unknown-model",
        "no-model",
        "zero-questions",
        "eleven-questions",
        "questions-not-int",
        "query-too-long",
        "blank-query",
        "unknown-subject",
        "max-tokens",
        "ask-subject",
        "mode",
        "unknown-tool",
    ],
)
def test_bad_arguments_are_one_line_tool_errors(client: McpClient, tool: str, arguments: dict, message: str):
    assert message in one_line_error(client.call(tool, arguments))
    assert not client.call("show_3d_model", {"model_id": "atom_bohr"}).is_error  # and the server is still there


def test_a_bad_model_exits_at_once_with_one_line(tmp_path: Path):
    cmd = [str(VENV_BIN / "tutorforge"), "mcp", "--params", str(ROOT / "params.yaml"), "--model", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTORFORGE_")} | SERVER_ENV
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    err = proc.stderr.strip()
    assert proc.returncode == 1 and proc.stdout == "" and len(err.splitlines()) == 1, (proc.returncode, err)
    assert err.startswith("error: serve.model: ") and "holds no model" in err
    # the SDK's client sees the connection close instead of waiting for an answer

    async def handshake() -> None:
        server = StdioServerParameters(command=cmd[0], args=cmd[1:], env=SERVER_ENV, cwd=tmp_path)
        with anyio.fail_after(120), (tmp_path / "stderr").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()

    with pytest.raises(BaseExceptionGroup) as raised:
        anyio.run(handshake)
    assert raised.group_contains(MCPError, match="Connection closed", depth=None)
    assert "holds no model" in (tmp_path / "stderr").read_text()


def test_quiet_stdout_sends_what_loading_prints_to_stderr(tmp_path: Path):
    script = """
import os, sys
from tutorforge.serve.mcp_tools import quiet_stdout
held = sys.stdout  # a stream some library took at import
with quiet_stdout():
    print("a print inside")
    held.write("held and unflushed inside\\n")
    os.write(1, b"C code writing to fd 1 inside\\n")
print("after")
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "after\n"
    for line in ("a print inside", "held and unflushed inside", "C code writing to fd 1 inside"):
        assert line in proc.stderr
