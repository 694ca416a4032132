"""Dataset stage: section-level splits, dedup (exact + MinHash LSH), decontamination, mixing, determinism."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from stages import dataset as dataset_stage
from tutorforge.core.io import read_json, read_jsonl, write_jsonl
from tutorforge.corpus import synthetic_dataset as fx
from tutorforge.dataset import build as stage

SPLITS = ("train", "validation", "test")


def cfg(**kw) -> stage.DatasetConfig:
    return stage.DatasetConfig(seed=kw.pop("seed", 1337), **kw)


@pytest.fixture(scope="module")
def inputs() -> tuple[list[dict], list[dict], list[dict]]:
    secs = fx.make_sections(40)
    synth = fx.make_synth(secs)
    ann = [
        fx.example(
            s,
            "qa",
            f"Teacher question {i} about {s['text'].split()[5]}?",
            f"Teacher answer {i}: " + " ".join(s["text"].split()[20:35]),
            source="annotation",
        )
        for i, s in enumerate(secs[::3])
    ]
    return secs, synth, ann


def build(inputs, **kw):
    secs, synth, ann = copy.deepcopy(inputs)
    return stage.build(cfg(**kw), secs, synth, ann, set())


def split_of_sections(pre, sft) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s in SPLITS:
        for r in pre[s] + sft[s]:
            out.setdefault(r["section_id"], set()).add(s)
    return out


def test_no_section_in_two_splits_and_heldout_kinds(inputs):
    pre, sft, rep = build(inputs)
    assert all(len(v) == 1 for v in split_of_sections(pre, sft).values())
    for s in ("validation", "test"):
        assert {"qa", "mc", "socratic"} <= {r["kind"] for r in sft[s]}, s
        assert pre[s], s
    assert rep["heldout_kinds_missing"] == {"validation": [], "test": []}
    for r in sft["train"]:
        assert r["split"] == "train" and r["messages"][0]["role"] == "system"
        mode = "socratic_system_prompt" if r["kind"] == "socratic" else "system_prompt"
        assert r["messages"][0]["content"] == getattr(stage.DatasetConfig, mode)  # Socratic mode has its own
    assert stage.DatasetConfig.socratic_system_prompt != stage.DatasetConfig.system_prompt


def test_heldout_kinds_forced_when_split_lacks_them(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    # only 3 sections have socratic examples; with a 10% test split they would rarely land in test
    keep = {s["section_id"] for s in secs[:3]}
    synth = [e for e in synth if e["kind"] != "socratic" or e["section_id"] in keep]
    pre, sft, rep = stage.build(cfg(), secs, synth, ann, set())
    assert all("socratic" in {r["kind"] for r in sft[s]} for s in ("validation", "test"))
    assert all(len(v) == 1 for v in split_of_sections(pre, sft).values())


def test_planted_eval_text_in_training_is_decontaminated(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    pre0, sft0, _ = stage.build(cfg(), copy.deepcopy(secs), copy.deepcopy(synth), copy.deepcopy(ann), set())
    test_sec = pre0["test"][0]
    train_sid = pre0["train"][0]["section_id"]
    victim = next(e for e in synth if e["section_id"] == sft0["train"][-1]["section_id"] and e["kind"] == "qa")
    planted = " ".join(test_sec["text"].split()[40:60])  # 20 words of a held-out section
    victim["messages"][1]["content"] += " " + planted
    for s in secs:
        if s["section_id"] == train_sid:
            s["text"] = s["text"][:300] + " " + planted + " " + s["text"][300:]
    pre, sft, rep = stage.build(cfg(), secs, synth, ann, set())
    dec = {d["id"]: d for d in rep["removed"]["decontamination"]}
    assert set(dec) == {victim["example_id"], train_sid}
    assert dec[train_sid]["eval_item"] == test_sec["section_id"] and dec[train_sid]["ngram"] in " ".join(
        planted.lower().replace(".", "").split()
    )
    assert victim["example_id"] not in {r["example_id"] for r in sft["train"]}
    assert train_sid not in {r["section_id"] for r in pre["train"]}
    # everything else survives
    assert len(pre["train"]) == len(pre0["train"]) - 1 and len(sft["train"]) == len(sft0["train"]) - 1


def test_template_boilerplate_does_not_wipe_training(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    template = "Let us work through this together step by step and check each idea against the textbook page."
    for e in synth:
        if e["kind"] == "socratic":
            e["messages"][1]["content"] = template + " " + e["messages"][1]["content"]
    pre, sft, rep = stage.build(cfg(), secs, synth, ann, set())
    assert rep["removed_counts"]["decontamination_sft"] == 0 and rep["decontamination_boilerplate_ngrams"] > 0
    assert sum(r["kind"] == "socratic" for r in sft["train"]) == sum(
        e["kind"] == "socratic" and e["section_id"] in {p["section_id"] for p in pre["train"]} for e in synth
    )


def test_near_and_exact_duplicates_removed_non_duplicates_kept(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    base = next(e for e in synth if e["kind"] == "qa")
    near = copy.deepcopy(base)
    near["example_id"] = "near-copy"
    words = near["messages"][1]["content"].split()
    words[-1] = "changed."  # the last word of ~40 changed
    near["messages"][1]["content"] = " ".join(words)
    same_question = copy.deepcopy(base)  # shares the question, not the answer: kept
    same_question["example_id"] = "same-question"
    same_question["messages"][1]["content"] = " ".join(f"fresh{i}" for i in range(30))
    exact = copy.deepcopy(base)
    exact["example_id"] = "exact-copy"
    exact["messages"][1]["content"] = base["messages"][1]["content"].upper() + "!!"
    distinct = fx.example(
        secs[0],
        "qa",
        "A brand new question about something else entirely?",
        "An answer that shares nothing with the rest of the data, written freshly here.",
    )
    pre, sft, rep = stage.build(cfg(), secs, synth + [near, exact, distinct, same_question], ann, set())
    kept = {r["example_id"] for s in SPLITS for r in sft[s]}
    assert {base["example_id"], distinct["example_id"], "same-question"} <= kept
    assert {d["id"]: d["duplicate_of"] for d in rep["removed"]["near_dup"]} == {"near-copy": base["example_id"]}
    assert {d["id"]: d["duplicate_of"] for d in rep["removed"]["exact_dup"]} == {"exact-copy": base["example_id"]}
    assert rep["removed"]["near_dup"][0]["jaccard"] >= 0.7


def test_near_duplicate_sections_keep_the_heldout_copy(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    pre0, _, _ = stage.build(cfg(), copy.deepcopy(secs), [], [], set())
    held = pre0["validation"][0]
    train_copy = next(s for s in secs if s["section_id"] == pre0["train"][0]["section_id"])
    train_copy["text"] = held["text"].replace(".", ",", 2)
    pre, _, rep = stage.build(cfg(), secs, [], [], set())
    assert {d["id"]: d["duplicate_of"] for d in rep["removed"]["exact_dup"]} == {
        train_copy["section_id"]: held["section_id"]
    }


def test_mixing_cap_and_review_drops(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    rejected = {synth[0]["example_id"]}
    pre, sft, rep = stage.build(cfg(synth_per_annotation=2.0, min_synth_train=10), secs, synth, ann, rejected)
    train = sft["train"]
    n_ann = sum(r["source"] == "annotation" for r in train)
    n_syn = sum(r["source"] != "annotation" for r in train)
    assert n_syn == max(10, 2 * n_ann) and rep["removed_counts"]["mixing_cap_sft"] > 0
    assert [d["id"] for d in rep["removed"]["review"]] == [synth[0]["example_id"]]
    # held-out splits are never capped
    _, uncapped, _ = stage.build(cfg(synth_per_annotation=None), *copy.deepcopy(inputs)[:3], rejected)
    assert all(len(sft[s]) == len(uncapped[s]) for s in ("validation", "test"))
    assert len(uncapped["train"]) > len(train)


def test_report_counts_add_up(inputs):
    secs, synth, ann = copy.deepcopy(inputs)
    bad = fx.example(secs[1], "mc", "Broken mc?", "A")  # no options -> filtered
    pre, sft, rep = stage.build(cfg(synth_per_annotation=1.0, min_synth_train=5), secs, synth + [bad], ann, set())
    rc = rep["removed_counts"]
    assert rep["inputs"]["sections"] == sum(len(pre[s]) for s in SPLITS) + sum(
        v for k, v in rc.items() if k.endswith("_pretrain")
    )
    assert rep["inputs"]["examples"] == sum(len(sft[s]) for s in SPLITS) + sum(
        v for k, v in rc.items() if k.endswith("_sft")
    )
    assert rc["filter_sft"] == 1 and rep["removed"]["filter"][0]["id"] == bad["example_id"]
    assert sum(v["records"] for v in rep["sft"].values()) == sum(rep["sft_by_kind"].values())
    for s in SPLITS:
        assert sum(rep["sft"][s]["by_source"].values()) == rep["sft"][s]["records"] == len(sft[s])
        assert sum(rep["pretrain"][s]["by_subject"].values()) == len(pre[s])
    m = stage.metrics(rep)
    assert m["sft_train"] == len(sft["train"]) and all(isinstance(v, int | float) for v in m.values())


def _run_cli(tmp: Path, inputs, out: str, seed: int = 1337) -> Path:
    secs, synth, ann = inputs
    write_jsonl(tmp / "sections.jsonl", secs)
    write_jsonl(tmp / "synth.jsonl", synth)
    write_jsonl(tmp / "ann.jsonl", ann)
    assert (
        dataset_stage.main(
            [
                "-p",
                str(tmp / "none.yaml"),
                "-S",
                f"dataset.sections={tmp / 'sections.jsonl'}",
                "-S",
                f"dataset.synth={tmp / 'synth.jsonl'}",
                "-S",
                f"dataset.annotations={tmp / 'ann.jsonl'}",
                "-S",
                "dataset.annotations_report=",
                "-S",
                "dataset.labels=",
                "-S",
                f"dataset.output_dir={tmp / out}",
                "-S",
                f"seed={seed}",
            ]
        )
        == 0
    )
    return tmp / out


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_cli_outputs_deterministic_and_seed_dependent(tmp_path, inputs):
    a = _tree(_run_cli(tmp_path, inputs, "a"))
    b = _tree(_run_cli(tmp_path, inputs, "a"))  # same paths (the report records them), fresh run
    assert a == b and "sft/train.jsonl" in a and "pretrain/test.jsonl" in a and "metrics.json" in a
    c = _tree(_run_cli(tmp_path, inputs, "c", seed=7))
    assert c["sft/train.jsonl"] != a["sft/train.jsonl"]
    assert c["pretrain/test.jsonl"] != a["pretrain/test.jsonl"]
    rec = next(read_jsonl(tmp_path / "a" / "pretrain" / "train.jsonl"))
    assert set(rec) == {"section_id", "doc_id", "subject", "text"}
    ex = next(read_jsonl(tmp_path / "a" / "sft" / "validation.jsonl"))
    assert ex["split"] == "validation" and isinstance(ex["messages"], list)
    rep = read_json(tmp_path / "a" / "data_report.json")
    assert rep["config"]["seed"] == 1337


def test_bad_ratios_and_missing_input_fail_clearly(tmp_path, inputs, capsys):
    with pytest.raises(ValueError, match="sum to 1"):
        build(inputs, split_ratios={"train": 0.9, "validation": 0.2, "test": 0.1})
    write_jsonl(tmp_path / "s.jsonl", inputs[0])
    capsys.readouterr()
    assert (
        dataset_stage.main(
            [
                "-p",
                str(tmp_path / "none.yaml"),
                "-S",
                f"dataset.sections={tmp_path / 's.jsonl'}",
                "-S",
                f"dataset.synth={tmp_path / 'nope.jsonl'}",
                "-S",
                f"dataset.output_dir={tmp_path / 'o'}",
            ]
        )
        == 1
    )
    assert "synth examples not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
