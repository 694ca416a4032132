"""The diagram stages as `dvc repro` runs them: diagrams -> vision -> vision_eval on a small dataset.

- diagrams: a family (label + seed) lies on one side of the split in every style; same params -> same bytes.
- vision: the encoder it saves loads through load_encoder (the path the GPU profiles use) and carries its labels and
  prompts; same params -> same weights.
- vision_eval can say "bad": the untrained baseline is near chance while the trained encoder, on a task it can learn
  in seconds (3 labels), is far above it; the report has the numbers and the confusion matrix picture.
- bad input: a missing dataset or a bad param is one line naming it, and the previous outputs stay.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stages import diagrams as diagrams_stage
from stages import vision as vision_stage
from stages import vision_eval as vision_eval_stage
from tutorforge.core.io import read_jsonl
from tutorforge.vision.dataset import split_of

LABELS = ["human_heart", "water_molecule", "series_circuit"]  # catalogue order
TINY_ENCODER = (
    "vision.encoder={image_size: 64, patch_size: 8, vision_hidden: 64, vision_layers: 2, vision_heads: 2, "
    "vision_intermediate: 128, text_hidden: 64, text_layers: 1, text_max_length: 24, vocab_size: 512}"
)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vision")
    data, model, report = root / "diagrams", root / "vision", root / "vision_eval"
    labels = "diagrams.labels=[" + ", ".join(LABELS) + "]"
    common = ["-S", f"diagrams.output={data}", "-S", labels, "-S", "diagrams.families_per_label=30"]
    assert diagrams_stage.main(common) == 0
    train = ["-S", f"vision.data={data}", "-S", f"vision.output={model}", "-S", TINY_ENCODER]
    train += ["-S", "vision.steps=120", "-S", "vision.warmup_steps=10", "-S", "vision.learning_rate=5e-4"]
    assert vision_stage.main(train) == 0
    evaluate = ["-S", f"vision_eval.data={data}", "-S", f"vision_eval.encoder={model}/encoder"]
    evaluate += ["-S", f"vision_eval.output={report}", "-S", "vision_eval.latency_items=5", "-S", TINY_ENCODER]
    evaluate += ["-S", "vision.steps=120"]
    assert vision_eval_stage.main(evaluate) == 0
    return {"root": root, "data": data, "model": model, "report": report, "train_args": train, "common": common}


def test_diagrams_split_by_family_and_reproducible(pipeline: dict[str, Path], tmp_path: Path) -> None:
    data = pipeline["data"]
    splits = {s: list(read_jsonl(data / f"{s}.jsonl")) for s in ("train", "validation", "test")}
    assert all(splits.values()), {s: len(r) for s, r in splits.items()}
    family_split = {}
    for split, recs in splits.items():
        for rec in recs:
            assert family_split.setdefault(rec["family"], split) == split, rec["family"]  # never two splits
            assert split_of(rec["family"], 1337, {"train": 0.7, "validation": 0.1, "test": 0.2}) == split
            assert (data / rec["image"]).is_file() and rec["label"] in LABELS
    styles = {(r["family"], r["style"]) for recs in splits.values() for r in recs}
    assert len(styles) == 3 * len(family_split)  # every family in all three styles
    report = json.loads((data / "report.json").read_text())
    assert report["labels"] == 3 and sum(report["images"].values()) == 3 * 30 * 3

    again = tmp_path / "again"
    args = [a if not a.startswith("diagrams.output=") else f"diagrams.output={again}" for a in pipeline["common"]]
    assert diagrams_stage.main(args) == 0
    assert tree_digest(again) == tree_digest(data)


def test_vision_encoder_loads_like_a_hub_checkpoint_and_is_reproducible(
    pipeline: dict[str, Path], tmp_path: Path
) -> None:
    from tutorforge.vision.encoder import load_encoder

    enc = load_encoder(str(pipeline["model"] / "encoder"))
    assert enc.kind == "siglip" and enc.image_size == 64
    assert enc.model.config.diagram_labels == LABELS
    assert enc.model.config.diagram_prompts == [
        "a diagram of {title}",
        "{title}",
        "a {subject} diagram showing {title}",
    ]
    report = json.loads((pipeline["model"] / "report.json").read_text())
    assert report["steps"] == 120 and report["train_images"] > 0 and report["final_loss"] is not None
    log = list(read_jsonl(pipeline["model"] / "train_log.jsonl"))
    assert log[-1]["step"] == 120 and log[-1]["loss"] < log[0]["loss"]

    again = tmp_path / "again"
    args = [a if not a.startswith("vision.output=") else f"vision.output={again}" for a in pipeline["train_args"]]
    assert vision_stage.main(args) == 0
    weights = "model.safetensors"
    assert (again / "encoder" / weights).read_bytes() == (pipeline["model"] / "encoder" / weights).read_bytes()


def test_vision_eval_tells_trained_from_untrained(pipeline: dict[str, Path]) -> None:
    metrics = json.loads((pipeline["report"] / "metrics.json").read_text())
    trained, baseline = metrics["trained"], metrics["baseline"]
    assert metrics["labels"] == 3 and trained["items"] == baseline["items"] > 0
    assert baseline["top1"] <= 0.55, baseline  # the untrained encoder: chance is 1/3
    assert trained["top1"] >= max(0.6, baseline["top1"] + 0.2), (trained, baseline)  # 3 labels, 120 tiny steps
    assert trained["top3"] == 1.0  # only 3 labels: top-3 always holds (a sanity check of the metric)
    assert trained["recommendation"] >= trained["top1"]  # a right label always recommends the right model
    assert set(trained["per_style"]) == {"0", "1", "2"} and trained["latency_ms"]["p95"] >= trained["latency_ms"]["p50"]
    assert trained["peak_rss_mb"] > 0 and "untrained" in metrics["baseline_encoder"]
    png = (pipeline["report"] / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = (pipeline["report"] / "report.md").read_text()
    assert "![confusion matrix](confusion.png)" in report and f"| top-1 | {trained['top1']:.3f} |" in report
    preds = list(read_jsonl(pipeline["report"] / "predictions.jsonl"))
    assert len(preds) == trained["items"] and all(len(p["ranked"]) == 3 for p in preds)


def test_missing_dataset_and_bad_params_are_one_line_and_keep_outputs(
    pipeline: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_digest(pipeline["model"])
    code = vision_stage.main(["-S", f"vision.data={tmp_path / 'none'}", "-S", f"vision.output={pipeline['model']}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "stages.diagrams" in err, err
    assert tree_digest(pipeline["model"]) == before

    assert vision_stage.main(["-S", "vision.steps=many"]) == 2
    assert "vision.steps" in capsys.readouterr().err
    assert vision_stage.main(["-S", "vision.prompts=['a {colour} diagram']"]) == 2
    assert "vision.prompts" in capsys.readouterr().err
    assert diagrams_stage.main(["-S", "diagrams.labels=[dragon]"]) == 2
    assert "diagrams.labels" in capsys.readouterr().err
    assert diagrams_stage.main(["-S", "diagrams.split_ratios={train: 0.5, validation: 0.1, test: 0.1}"]) == 2
    assert "diagrams.split_ratios" in capsys.readouterr().err


def test_a_catalogue_without_a_recommended_model_fails_the_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d"
    args = ["-S", f"diagrams.output={out}", "-S", "diagrams.families_per_label=1", "-S", "diagrams.labels=[lever]"]
    args += ["-S", "serve.models3d={human_heart: {asset: h.glb, animations: [beat]}}"]
    assert diagrams_stage.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lever" in err and "serve.models3d" in err, err
    assert not (out / "train.jsonl").exists()
