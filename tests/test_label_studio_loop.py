"""Active-learning selection (select.py) and the closed loop against a REAL Label Studio server: bootstrap -> push
-> select -> select-push -> annotate -> pull -> annotations + dataset -> sft -> select (client tests:
tests/test_label_studio.py).

The loop works in its own projects (titles suffixed), so it shares the session server safely.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.label_studio import ls_client, make_tiny, private_kinds
from tutorforge.core.config import load_config
from tutorforge.core.io import read_jsonl, write_jsonl
from tutorforge.labelstudio import client as L
from tutorforge.labelstudio import export_builder as eb
from tutorforge.labelstudio import tasks as T
from tutorforge.labelstudio.pull import pull

# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Fixture sections + synthetic examples + a tiny random Llama (tests/support/label_studio.py)."""
    return make_tiny(tmp_path_factory.mktemp("ls-tiny"))


def _select(tiny: dict, out: Path, **over) -> list[dict]:  # noqa: ANN003
    from stages.select import run
    from tutorforge.selection.select import SelectConfig

    cfg = SelectConfig(
        model=str(tiny["model"]),
        sections=str(tiny["dir"] / "sections.jsonl"),
        synth=str(tiny["dir"] / "synth.jsonl"),
        output_dir=str(out),
        embedder="model",
        infer_batch_size=8,
        max_new_tokens=6,
        max_prompt_tokens=64,
        n_clusters=3,
        **{"labels": "", "annotations": "", "annotations_report": "", **over},
    )
    run(cfg)
    return list(read_jsonl(out / "selection.jsonl"))


# --- no server needed -------------------------------------------------------------------------------------------------


def test_select_skips_labeled_items_and_is_deterministic(tiny: dict, tmp_path: Path) -> None:
    first = _select(tiny, tmp_path / "a", batch_size=30)
    again = _select(tiny, tmp_path / "b", batch_size=30)
    assert (tmp_path / "a" / "selection.jsonl").read_bytes() == (tmp_path / "b" / "selection.jsonl").read_bytes()
    assert first == again and len(first) == 20  # 10 sections + 10 qa questions, all unlabeled
    assert {r["kind"] for r in first} == {"section_label", "review"}
    for r in first:
        assert set(r) >= {"item_id", "kind", "score", "reasons", "prediction", "cluster", "round"}
        assert 0.0 <= r["prediction"]["confidence"] <= 1.0
    assert len({r["cluster"] for r in first[:3]}) == 3  # the first picks come from different clusters
    # label one section and review one question -> both leave the pool
    sec, q = next(r for r in first if r["kind"] == "section_label"), next(r for r in first if r["kind"] == "review")
    write_jsonl(tmp_path / "labels.jsonl", [{"section_id": sec["section_id"], "subject": "physics"}])
    write_jsonl(tmp_path / "ann.jsonl", [{"example_id": "x", "meta": {"reviewed_example_id": q["example_id"]}}])
    after = _select(
        tiny,
        tmp_path / "c",
        batch_size=30,
        labels=str(tmp_path / "labels.jsonl"),
        annotations=str(tmp_path / "ann.jsonl"),
    )
    assert {r["item_id"] for r in after} == {r["item_id"] for r in first} - {sec["item_id"], q["item_id"]}


# --- against the real Label Studio server -----------------------------------------------------------------------------


def _annotate(client: L.Client, pid: int, ext: str, kind: str, payload: dict) -> None:
    task = L.list_tasks(client, pid)[ext]
    client.sdk.annotations.create(id=task.id, result=eb.results(kind, payload, ext), lead_time=42.0)


@pytest.mark.slow
@pytest.mark.integration
def test_closed_loop(label_studio_server, tiny: dict, tmp_path: Path, root: Path) -> None:  # noqa: ANN001
    """bootstrap -> push -> select -> select-push -> annotate -> pull -> annotations + dataset -> sft -> select."""
    from stages.annotations import run as run_annotations
    from stages.dataset import run as run_dataset
    from tutorforge.dataset.build import DatasetConfig
    from tutorforge.labelstudio.annotations import AnnotationsConfig
    from tutorforge.training.sft import SFTConfig, run_sft

    params = root / "params.yaml"
    d = tiny["dir"]
    client = ls_client(label_studio_server)
    kinds = private_kinds("loop")
    L.bootstrap(client, kinds)
    pids = {k: L.project_id(client, v) for k, v in kinds.items()}
    L.push_tasks(client, kinds["qa"], T.build_tasks("qa", tiny["sections"][:3], tiny["synth"]))

    ann_dir = tmp_path / "annotations"
    shutil.copytree(root / "data" / "annotations", ann_dir)

    def stages(n: int) -> tuple[Path, list[dict]]:
        a_out, d_out = tmp_path / f"ann{n}", tmp_path / f"ds{n}"
        run_annotations(
            load_config(
                AnnotationsConfig,
                "annotations",
                params,
                {
                    "annotations.input": str(ann_dir),
                    "annotations.sections": str(d / "sections.jsonl"),
                    "annotations.output_dir": str(a_out),
                },
            )
        )
        run_dataset(
            load_config(
                DatasetConfig,
                "dataset",
                params,
                {
                    "dataset.sections": str(d / "sections.jsonl"),
                    "dataset.synth": str(d / "synth.jsonl"),
                    "dataset.annotations": str(a_out / "examples.jsonl"),
                    "dataset.annotations_report": str(a_out / "report.json"),
                    "dataset.labels": str(a_out / "labels.jsonl"),
                    "dataset.output_dir": str(d_out),
                    "dataset.system_prompt": "You are a tutor.",
                },
            )
        )
        return a_out, [r for s in ("train", "validation", "test") for r in read_jsonl(d_out / "sft" / f"{s}.jsonl")]

    a1, sft1 = stages(1)
    sel1 = _select(
        tiny,
        tmp_path / "sel1",
        batch_size=4,
        labels=str(a1 / "labels.jsonl"),
        annotations=str(a1 / "examples.jsonl"),
        annotations_report=str(a1 / "report.json"),
    )
    per_kind = T.selection_tasks(sel1, tiny["sections"], tiny["synth"], "select-round1")
    for k, tasks in per_kind.items():
        if tasks:
            assert L.push_tasks(client, kinds[k], tasks)["created"] == len(tasks)
    pushed = L.list_tasks(client, pids["review"]) | L.list_tasks(client, pids["section_label"])
    for r in sel1:
        t = pushed[r["item_id"]]
        assert t.data["selection_round"] == 1
        pred = t.predictions[0] if isinstance(t.predictions[0], dict) else t.predictions[0].dict()
        assert abs(pred["score"] - r["prediction"]["confidence"]) < 1e-5 and pred["model_version"] == "select-round1"

    # teachers at work: two new QA pairs + every selected item
    qa_ext = sorted(L.list_tasks(client, pids["qa"]))[:2]
    for i, ext in enumerate(qa_ext):
        _annotate(
            client,
            pids["qa"],
            ext,
            "qa",
            {
                "question": f"Which two ideas does part {i} of the loop link?",
                "answer": f"Loop answer number {i}: the model learns from teachers.",
            },
        )
    for r in sel1:
        if r["kind"] == "section_label":
            _annotate(
                client,
                pids["section_label"],
                r["item_id"],
                "section_label",
                {"subject": "chemistry", "difficulty": "medium"},
            )
        else:
            _annotate(
                client,
                pids["review"],
                r["item_id"],
                "review",
                {
                    "verdict": "edit",
                    "edited_answer": f"A corrected answer for {r['example_id']} written by a teacher in the loop.",
                },
            )
    summaries = {k: pull(client, v, ann_dir / f"{k}.json") for k, v in kinds.items()}
    annotated = set(qa_ext) | {r["item_id"] for r in sel1}
    assert {e for s in summaries.values() for e in s["newly_annotated"]} == annotated

    a2, sft2 = stages(2)
    ids1, ids2 = {r["example_id"] for r in sft1}, {r["example_id"] for r in sft2}
    new_ann = {r["example_id"] for r in sft2 if r["source"] == "annotation"} - ids1
    replaced = {r["example_id"] for r in sel1 if r["kind"] == "review"} & ids1  # edited reviews replace their synth
    assert len(new_ann) == 2 + sum(r["kind"] == "review" for r in sel1)
    assert ids2 == (ids1 | new_ann) - replaced and len(sft2) == len(sft1) + len(new_ann) - len(replaced)

    # retrain a few steps on the grown dataset, then the next round no longer picks what was labeled
    sft_cfg = load_config(
        SFTConfig,
        "sft",
        params,
        {
            f"sft.{k}": v
            for k, v in {
                "base_model": str(tiny["model"]),
                "tokenizer": str(tiny["model"]),
                "train": str(tmp_path / "ds2" / "sft" / "train.jsonl"),
                "validation": str(tmp_path / "ds2" / "sft" / "validation.jsonl"),
                "text": "",
                "output": str(tmp_path / "sft"),
                "max_length": 512,
                "batch_size": 4,
                "max_steps": 2,
                "eval_steps": 2,
                "save_steps": 2,
                "logging_steps": 1,
                "max_eval_examples": 8,
                "profile": "cpu",
            }.items()
        },
    )
    run_sft(sft_cfg)
    sel2 = _select(
        {**tiny, "model": tmp_path / "sft" / "merged"},
        tmp_path / "sel2",
        batch_size=100,
        round=2,
        labels=str(a2 / "labels.jsonl"),
        annotations=str(a2 / "examples.jsonl"),
        annotations_report=str(a2 / "report.json"),
    )
    assert sel2 and not {r["item_id"] for r in sel2} & {r["item_id"] for r in sel1}
    assert len(sel2) == 20 - len(sel1) and {r["round"] for r in sel2} == {2}

    # DVC sees the new snapshot: in a copy of the repo, the annotations stage is out of date after the pull
    repo = tmp_path / "repo"
    _dvc_repo(root, repo, ann_dir_before=root / "data" / "annotations", sections=d / "sections.jsonl")
    from tutorforge.orchestration.dvc_runner import dvc_exe, subprocess_env

    dvc, env = [dvc_exe()], subprocess_env()
    subprocess.run(dvc + ["repro", "--single-item", "annotations"], cwd=repo, env=env, check=True, capture_output=True)
    clean = subprocess.run(
        dvc + ["status", "annotations"], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    assert "modified" not in clean.stdout, clean.stdout
    for k in kinds:
        shutil.copy(ann_dir / f"{k}.json", repo / "data" / "annotations" / f"{k}.json")
    st = subprocess.run(dvc + ["status", "annotations"], cwd=repo, env=env, check=True, capture_output=True, text=True)
    assert "annotations" in st.stdout and "modified:" in st.stdout and "data/annotations" in st.stdout, st.stdout


def _dvc_repo(root: Path, repo: Path, ann_dir_before: Path, sections: Path) -> None:
    """A throwaway DVC repo holding the annotations stage exactly as dvc.yaml declares it."""
    import yaml

    repo.mkdir()
    subprocess.run([str(root / ".venv" / "bin" / "dvc"), "init", "--no-scm", "-q"], cwd=repo, check=True)
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["annotations"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"annotations": stage}}))
    shutil.copy(root / "params.yaml", repo / "params.yaml")
    for code in ("stages", "tutorforge"):  # the stage module and the library dirs dvc.yaml lists as its deps
        shutil.copytree(root / code, repo / code, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ann_dir_before, repo / "data" / "annotations")
    (repo / "artifacts" / "segment").mkdir(parents=True)
    shutil.copy(sections, repo / "artifacts" / "segment" / "sections.jsonl")
