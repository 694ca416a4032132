"""Annotations stage: Label Studio export parsing, conflict rules, orphans, malformed exports, label schema."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.annotations_stage import OUTPUTS, cli, make_workdir, run, save, sections
from tutorforge.core.io import read_jsonl
from tutorforge.corpus import synthetic_dataset as fx
from tutorforge.labelstudio import export_builder as eb
from tutorforge.labelstudio.schema import project_kinds, section_task_data


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return make_workdir(tmp_path)


def qa_task(sec: dict, tid: int, answers: list[tuple[int, str, float]], **kw) -> dict:
    """A qa task with one annotation per (annotator, answer, minutes)."""
    anns = [
        eb.annotation(
            tid * 10 + i,
            tid,
            who,
            eb.results("qa", {"question": "Q?", "answer": ans}, f"{tid}{i}"),
            minutes=m,
            lead_time=20.0,
            project=1,
            **kw,
        )
        for i, (who, ans, m) in enumerate(answers)
    ]
    return eb.task(tid, tid, section_task_data("qa", sec, tid), anns, 1, minutes=0)


def test_round_trip_every_kind(workdir):
    secs = sections(workdir)
    save(workdir, "snap.json", fx.make_export(secs[:4]))
    rep = run(workdir)
    labels = list(read_jsonl(workdir / "out" / "labels.jsonl"))
    exs = {e["kind"]: e for e in read_jsonl(workdir / "out" / "examples.jsonl")}
    assert [(x["section_id"], x["subject"], x["difficulty"]) for x in labels] == [
        (secs[0]["section_id"], "physics", "medium")
    ]
    assert set(exs) == {"qa", "mc", "socratic"} and rep["examples"] == 4  # qa + mc (distractors) + socratic + review
    mc = exs["mc"]
    assert mc["meta"]["options"][mc["meta"]["answer_index"]] == "It explains the main idea in detail."
    assert (
        mc["messages"][-1]["content"] == f"{'ABCD'[mc['meta']['answer_index']]}. It explains the main idea in detail."
    )
    assert sorted(mc["meta"]["options"]) == sorted(
        ["It explains the main idea in detail.", "Nothing at all", "A recipe", "A poem"]
    )
    soc = exs["socratic"]["messages"]
    assert [m["role"] for m in soc] == ["user", "assistant", "user", "assistant"]
    assert exs["socratic"]["meta"]["withheld_answer"] == "because of the main idea"
    review = [e for e in read_jsonl(workdir / "out" / "examples.jsonl") if e["meta"].get("verdict")]
    assert review[0]["messages"][1]["content"] == "It is the model's answer."  # accept -> model answer
    for e in exs.values():
        assert e["source"] == "annotation" and e["section_id"] in {s["section_id"] for s in secs}
        prov = e["provenance"]
        assert prov["annotator"] == 1 and prov["snapshot"] == "snap.json" and prov["lead_time"] == 30.0
        assert prov["task_id"] >= 100 and prov["created_at"].startswith("2026-10-01T")


def test_review_edit_reject_and_cancelled(workdir):
    sec = sections(workdir)[0]
    tasks = []
    for tid, verdict, edited in ((1, "accept", ""), (2, "edit", "The corrected answer."), (3, "reject", "")):
        data = section_task_data(
            "review", sec, tid, question="Why?", model_answer="Model says so.", example_id=f"syn{tid}"
        )
        res = eb.results("review", {"verdict": verdict, "edited_answer": edited}, str(tid))
        tasks.append(eb.task(tid, tid, data, [eb.annotation(tid, tid, 5, res, 1, 9.0, 1)], 1, 0))
    # a cancelled annotation (with a different verdict) is ignored
    tasks[1]["annotations"].append(
        eb.annotation(99, 2, 6, eb.results("review", {"verdict": "reject"}, "c"), 50, 3.0, 1, cancelled=True)
    )
    save(workdir, "r.json", tasks)
    rep = run(workdir)
    answers = {
        e["meta"]["reviewed_example_id"]: e["messages"][1]["content"]
        for e in read_jsonl(workdir / "out" / "examples.jsonl")
    }
    assert answers == {"syn1": "Model says so.", "syn2": "The corrected answer."}
    assert [r["reviewed_example_id"] for r in rep["rejected_reviews"]] == ["syn3"]
    assert rep["counts"]["annotations_cancelled"] == 1 and rep["n_disagreements"] == 0


@pytest.mark.parametrize(
    ("rule", "expected", "how"), [("latest", "answer y", "latest"), ("majority", "answer x", "majority")]
)
def test_conflict_rules(workdir, rule, expected, how):
    sec = sections(workdir)[1]
    # two annotators say x (older), one says y (newest)
    save(workdir, "c.json", [qa_task(sec, 7, [(1, "answer x", 10), (2, "Answer  X!", 20), (3, "answer y", 30)])])
    rep = run(workdir, "-S", f"annotations.conflict_rule={rule}")
    (ex,) = list(read_jsonl(workdir / "out" / "examples.jsonl"))
    assert ex["messages"][1]["content"].lower().replace("  ", " ").rstrip("!") == expected
    assert rep["disagreements"][0]["resolved_by"] == how and rep["disagreements"][0]["n_annotations"] == 3
    if rule == "majority":
        assert ex["provenance"]["annotator"] == 2  # the latest of the majority group


def test_majority_tie_goes_to_latest_and_ground_truth_wins(workdir):
    secs = sections(workdir)
    tie = qa_task(secs[0], 1, [(1, "answer a", 30), (2, "answer b", 10)])
    gt = qa_task(secs[1], 2, [(1, "answer a", 10), (2, "answer b", 20), (3, "answer b", 30)])
    gt["annotations"][0]["ground_truth"] = True
    save(workdir, "t.json", [tie, gt])
    rep = run(workdir, "-S", "annotations.conflict_rule=majority")
    got = {
        e["provenance"]["task_id"]: (e["messages"][1]["content"], e["provenance"]["resolved_by"])
        for e in read_jsonl(workdir / "out" / "examples.jsonl")
    }
    assert got == {1: ("answer a", "tie_latest"), 2: ("answer a", "ground_truth")}
    assert rep["n_disagreements"] == 2


def test_newer_snapshot_wins_even_if_its_name_sorts_first(workdir):
    sec = sections(workdir)[2]
    save(workdir, "z_old.json", [qa_task(sec, 5, [(1, "old answer", 10)])])
    save(workdir, "a_new.json", [qa_task(sec, 5, [(1, "new answer", 500)])])
    rep = run(workdir)
    (ex,) = list(read_jsonl(workdir / "out" / "examples.jsonl"))
    assert ex["messages"][1]["content"] == "new answer" and ex["provenance"]["snapshot"] == "a_new.json"
    assert rep["tasks_superseded"] == 1 and rep["tasks_total"] == 1


def test_orphans_are_reported_and_relinked(workdir):
    secs = sections(workdir)
    gone = qa_task(secs[0], 1, [(1, "a", 1)])
    gone["data"].update(section_id="deadbeef00000000", heading="No such heading")
    moved = qa_task(secs[3], 2, [(1, "b", 1)])
    moved["data"]["section_id"] = "0123456789abcdef"  # id changed, same file + heading -> re-linked
    save(workdir, "o.json", [gone, moved])
    rep = run(workdir)
    assert [o["section_id"] for o in rep["orphans"]] == ["deadbeef00000000"]
    assert rep["relinked"] == [
        {"external_id": moved["data"]["external_id"], "from": "0123456789abcdef", "to": secs[3]["section_id"]}
    ]
    (ex,) = list(read_jsonl(workdir / "out" / "examples.jsonl"))
    assert ex["section_id"] == secs[3]["section_id"]


def _break(kind: str, tasks: list[dict]) -> tuple[str, str]:
    """Corrupt a valid export; returns (text to write, substring the error must contain)."""
    t = copy.deepcopy(tasks)
    if kind == "bad_json":
        return json.dumps(t)[:-40], "not valid JSON"
    if kind == "missing_result":
        del t[2]["annotations"][0]["result"]
        return (
            json.dumps(t),
            f"task[2] (id={t[2]['id']}, external_id={t[2]['data']['external_id']}): annotations[0]: missing field 'result'",
        )
    if kind == "wrong_type":
        t[1]["annotations"][0]["lead_time"] = "fast"
        return json.dumps(t), "task[1] (id=101"
    if kind == "bad_value":
        t[3]["annotations"][0]["result"][0]["value"]["choices"] = "accept"
        return json.dumps(t), "task[3] (id=103, external_id=review:"
    if kind == "not_a_list":
        return json.dumps({"tasks": t}), "is a list of tasks"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["bad_json", "missing_result", "wrong_type", "bad_value", "not_a_list"])
def test_malformed_export_fails_clearly_and_keeps_outputs(workdir, kind, capsys):
    tasks = fx.make_export(sections(workdir)[:4])
    save(workdir, "good.json", tasks)
    run(workdir)
    before = {n: (workdir / "out" / n).read_bytes() for n in OUTPUTS}
    text, needle = _break(kind, tasks)
    bad = workdir / "ann" / "zz_bad.json"
    bad.write_text(text)
    capsys.readouterr()
    assert cli(workdir) == 1
    msg = capsys.readouterr().err
    assert str(bad) in msg and needle in msg, msg
    assert {n: (workdir / "out" / n).read_bytes() for n in OUTPUTS} == before
    assert sorted(p.name for p in (workdir / "out").iterdir()) == sorted(OUTPUTS)  # no temp files left


def test_socratic_leak_is_dropped(workdir):
    sec = sections(workdir)[0]
    p = {
        "student_opening": "What gas do plants release?",
        "withheld_answer": "oxygen",
        "turns": [["Think about what we breathe in: it is oxygen.", ""]],
    }
    res = eb.results("socratic", p, "s")
    save(
        workdir,
        "s.json",
        [eb.task(1, 1, section_task_data("socratic", sec), [eb.annotation(1, 1, 1, res, 1, 5.0, 1)], 1, 0)],
    )
    rep = run(workdir)
    assert rep["n_socratic_leaks"] == 1 and rep["examples"] == 0


def test_label_configs_match_the_parser():
    """Every control the parser reads exists in the XML config, with the right tag, and vice versa."""
    for kind in project_kinds().values():
        root = ET.fromstring(kind.label_config)
        controls = {el.get("name"): el.tag for el in root.iter() if el.tag in ("Choices", "TextArea")}
        assert set(controls) == set(kind.controls), kind.name
        for el in root.iter():
            if el.tag in ("Choices", "TextArea"):
                assert el.get("toName") in {t.get("name") for t in root.iter() if t.tag == "Text"}
        assert kind.instructions and "section_id" in kind.data_fields


def test_seed_export_is_valid(root):
    from tutorforge.labelstudio.export import load_snapshot

    path = root / "data" / "annotations" / "seed_export.json"
    if not path.exists():
        pytest.skip("seed export not generated yet (scripts/make_seed_annotations.py)")
    snap = load_snapshot(path)
    annotated = [t for t in snap.tasks if t.annotations]
    assert len(annotated) >= 60
    assert {t.kind for t in annotated} == set(project_kinds())
    assert sum(len(t.annotations) > 1 for t in annotated) >= 3  # deliberate disagreements


def test_seed_generator_matches_headings_and_is_deterministic(workdir, root):
    import importlib.util

    spec_mod = importlib.util.spec_from_file_location("make_seed", root / "scripts" / "make_seed_annotations.py")
    mod = importlib.util.module_from_spec(spec_mod)
    spec_mod.loader.exec_module(mod)
    spec = {
        "items": [
            {
                "file": "book1.pdf",
                "heading": "section 2",
                "label": {"subject": "chemistry", "difficulty": "easy", "also": [{"by": 9, "difficulty": "hard"}]},
                "qa": [{"question": "Q1?", "answer": "A1."}],
                "review": [
                    {
                        "question": "Q2?",
                        "model_answer": "M2.",
                        "verdict": "edit",
                        "edited_answer": "E2.",
                        "also": [{"by": 8, "verdict": "reject", "cancelled": True}],
                    }
                ],
            },
        ]
    }
    secs = sections(workdir)
    a = mod.build(spec, secs)
    assert json.dumps(a) == json.dumps(mod.build(spec, secs))
    assert [t["data"]["kind"] for t in a] == ["section_label", "qa", "review"]
    assert a[0]["data"]["section_id"] == next(
        s["section_id"] for s in secs if s["file"] == "book1.pdf" and s["heading_path"][-1] == "Section 2"
    )
    save(workdir, "seed.json", a)
    rep = run(workdir)
    assert rep["n_disagreements"] == 1 and rep["counts"]["annotations_cancelled"] == 1
    assert [x["difficulty"] for x in read_jsonl(workdir / "out" / "labels.jsonl")] == ["hard"]  # latest wins
    with pytest.raises(SystemExit, match="no section heading matches"):
        mod.build({"items": [{"file": "book1.pdf", "heading": "Nope", "qa": []}]}, secs)
