"""The tutor's tools executed for real on the sample books' index: search finds pages, make_quiz draws held-out
questions of the topic's section first and never unrelated ones, show_3d_model returns the asset and animations, and
invalid calls are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sample_index import build_sample_index
from tutorforge.retrieval.store import TextbookIndex
from tutorforge.serve.config import DEFAULT_MODELS3D
from tutorforge.tools.runner import ToolCallError, ToolRunner


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TextbookIndex:
    out = build_sample_index(tmp_path_factory.mktemp("sample"))
    return TextbookIndex.load(out / "index")


def section_of(index: TextbookIndex, heading_word: str) -> dict:
    return next(c for c in index.chunks if any(heading_word in h for h in c["heading_path"]))


def record(section: dict, i: int, question: str, answer: str, kind: str = "qa") -> dict:
    """A held-out SFT record as the dataset stage writes it (test split)."""
    return {
        "example_id": f"ex{i}",
        "kind": kind,
        "section_id": section["section_id"],
        "subject": section["subject"],
        "split": "test",
        "messages": [
            {"role": "system", "content": "You are TutorForge."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
    }


@pytest.fixture(scope="module")
def runner(index: TextbookIndex) -> ToolRunner:
    osmosis, current = section_of(index, "The Cell Membrane"), section_of(index, "Current, Voltage")
    items = [
        record(osmosis, 1, "What is osmosis?", "The movement of water through a partially permeable membrane."),
        record(osmosis, 2, "Which way does water move in osmosis?", "From dilute to concentrated solution."),
        record(current, 3, "What is the unit of electric current?", "The ampere (A)."),
        record(current, 4, "What does an ammeter measure?", "Current.", kind="definition"),
        # not quiz material: a dialogue kind
        record(osmosis, 5, "Can you guide me through osmosis?", "What do you think moves?", kind="socratic"),
    ]
    return ToolRunner(index, items, DEFAULT_MODELS3D)


def test_search_returns_sections_with_pages_in_the_training_shape(runner: ToolRunner, index: TextbookIndex):
    out = runner.run({"name": "search_textbook", "arguments": {"query": "osmosis through a membrane"}})
    first = out.for_model["results"][0]
    assert set(first) == {"section_id", "heading", "pages", "snippet"}  # what SFT's tool results looked like
    assert "Cell Membrane" in first["heading"] and first["pages"][0] == first["pages"][1]
    assert out.for_client["results"][0]["file"] == "biology.pdf"
    chunk = next(c for c in index.chunks if c["chunk_id"] == out.for_client["results"][0]["chunk_id"])
    assert chunk["page"] == first["pages"][0]
    physics = runner.run({"name": "search_textbook", "arguments": {"query": "osmosis"}}, subject="physics")
    assert {r["file"] for r in physics.for_client["results"]} == {"physics.pdf"}


def test_a_quiz_comes_from_the_topics_section_first_and_never_exceeds_the_ask(runner: ToolRunner):
    out = runner.run({"name": "make_quiz", "arguments": {"topic": "osmosis", "n_questions": 2}})
    questions = [q["question"] for q in out.for_model["questions"]]
    assert questions == ["What is osmosis?", "Which way does water move in osmosis?"]
    assert out.for_model["topic"] == "osmosis" and out.for_client["asked"] == 2
    one = runner.run({"name": "make_quiz", "arguments": {"topic": "electric current", "n_questions": 1}})
    assert [q["answer"] for q in one.for_model["questions"]] == ["The ampere (A)."]
    # asked for more than the held-out material: what there is, from near topics, never the dialogue record
    many = runner.run({"name": "make_quiz", "arguments": {"topic": "osmosis", "n_questions": 10}})
    got = [q["question"] for q in many.for_model["questions"]]
    assert got[:2] == questions and len(got) <= 4 and "Can you guide me through osmosis?" not in got


def test_a_quiz_on_an_unrelated_topic_is_empty_rather_than_off_topic(runner: ToolRunner):
    out = runner.run({"name": "make_quiz", "arguments": {"topic": "medieval poetry and knights", "n_questions": 3}})
    assert out.for_model == {"topic": "medieval poetry and knights", "questions": []}
    biology = runner.run(
        {"name": "make_quiz", "arguments": {"topic": "electric current", "n_questions": 3}}, subject="biology"
    )
    assert all("current" not in q["question"].lower() for q in biology.for_model["questions"])


def test_show_3d_model_returns_the_asset_and_animations(runner: ToolRunner):
    out = runner.run({"name": "show_3d_model", "arguments": {"model_id": "human_heart"}})
    assert out.for_model == {"status": "displayed", "model_id": "human_heart", "title": "the human heart"}
    assert out.for_client["asset"] == "models/human_heart.glb" and "blood_flow" in out.for_client["animations"]
    assert out.as_json()["result"] == out.for_client


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ({"name": "show_3d_model", "arguments": {"model_id": "../../etc/passwd"}}, "not in allowed values"),
        ({"name": "make_quiz", "arguments": {"topic": "cells", "n_questions": 0}}, "outside [1, 10]"),
        ({"name": "make_quiz", "arguments": {"topic": "cells"}}, "missing required argument 'n_questions'"),
        ({"name": "rm_rf", "arguments": {}}, "unknown tool 'rm_rf'"),
        ({"name": "search_textbook", "arguments": {"query": "x" * 500}}, "longer than 200"),
    ],
    ids=["model-id-path", "zero-questions", "missing-arg", "unknown-tool", "long-query"],
)
def test_invalid_calls_are_refused_with_the_reason(runner: ToolRunner, call: dict, reason: str):
    with pytest.raises(ToolCallError, match=reason.replace("[", r"\[").replace("(", r"\(")):
        runner.run(call)


def test_the_registry_layout_carries_the_quiz_split(tmp_path: Path):
    from tutorforge.serve.bundle import dataset_folder

    assert dataset_folder(tmp_path) is None
    (tmp_path / "dataset" / "sft").mkdir(parents=True)
    assert dataset_folder(tmp_path) == tmp_path / "dataset" / "sft"


def test_the_gate_labels_a_request_by_the_nearest_training_request():
    from tutorforge.tools.gate import ToolGate

    def rec(text: str, tool: str | None = None) -> dict:
        calls = [{"role": "assistant", "content": "", "tool_calls": [{"name": tool, "arguments": {}}]}] if tool else []
        return {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": text}, *calls]}

    gate = ToolGate.from_records(
        [
            rec("Set me a three-question quiz on photosynthesis.", "make_quiz"),
            rec("Show me a 3D model of the human heart I can rotate.", "show_3d_model"),
            rec("What gas do plants take in for photosynthesis?"),
            rec("Which page covers the heart?", "search_textbook"),
            {"messages": [{"role": "system", "content": "no user turn: skipped"}]},
        ]
    )
    assert gate.labels == ["make_quiz", "show_3d_model", "none", "search_textbook"]
    assert gate.label("Give me a short quiz about photosynthesis") == "make_quiz"
    assert gate.label("Can I spin a model of the heart around?") == "show_3d_model"
    assert gate.label("Why do plants need carbon dioxide?") == "none"
    assert ToolGate.from_records([]).label("Quiz me") == "none"  # no examples: nothing reads like a tool request
