"""dataset: sections + synthetic + annotated examples -> deduplicated, decontaminated train/validation/test splits.

    python -m stages.dataset                                             # params.yaml [dataset] + seed
    python -m stages.dataset -S dataset.output_dir=/tmp/dataset -S seed=7
    python -m stages.dataset -S dataset.annotations='' -S dataset.annotations_report='' -S dataset.labels=''
    dvc repro --single-item dataset

Reads the section records of `dataset.sections`, the example records of `dataset.synth` and `dataset.annotations`
('' = none), the rejected reviews of `dataset.annotations_report` and the teachers' subject labels of
`dataset.labels` (missing or '' = none), builds the splits (tutorforge/dataset/build.py) and writes into
`dataset.output_dir`: pretrain/{train,validation,test}.jsonl (text records), sft/{split}.jsonl (example records),
data_report.json (what was removed and why, with ids) and metrics.json (flat numbers for `dvc metrics`), replaced
together (core/outputs.py). Bad or missing input fails the stage before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import read_json, read_jsonl, write_json
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError, read_records, write_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.dataset.build import SPLITS, DatasetConfig, build, metrics

SECTION = "dataset"
OUTPUTS = ("pretrain", "sft", "data_report.json", "metrics.json")
log = get_logger("stages.dataset")


def _examples(path: str, source: str) -> list[dict[str, Any]]:
    if not path:
        return []
    if not Path(path).exists():
        raise FileNotFoundError(f"{source} examples not found: {path} (set dataset.{source}: '' to run without)")
    return read_records(path, "example")


def read_inputs(cfg: DatasetConfig) -> dict[str, Any]:
    """build()'s inputs: {sections, synth, ann, rejected_ids, subject_labels}, records checked.

    Raises FileNotFoundError for a missing input, RecordError for a record that breaks its contract (a line that is
    not JSON, a report that is not a JSON object, no sections at all).
    """
    if not Path(cfg.sections).is_file():
        raise FileNotFoundError(f"sections not found: {cfg.sections} (run the segment stage first)")
    sections = read_records(cfg.sections, "section")
    if not sections:  # would replace every split with an empty one
        raise RecordError(f"{cfg.sections} holds no sections")
    synth = _examples(cfg.synth, "synth")
    ann = _examples(cfg.annotations, "annotations")
    rejected: set[str] = set()
    if cfg.annotations_report and Path(cfg.annotations_report).exists():
        rejected = {
            r["reviewed_example_id"]
            for r in read_json(cfg.annotations_report, expect=dict).get("rejected_reviews", [])
            if r.get("reviewed_example_id")
        }
    labels: dict[str, str] = {}
    if cfg.labels and Path(cfg.labels).exists():
        for n, r in enumerate(read_jsonl(cfg.labels), 1):
            if not isinstance(r.get("section_id"), str):
                raise RecordError(f"{cfg.labels}: record {n}: section_id: missing or not a string")
            if r.get("subject"):
                labels[r["section_id"]] = r["subject"]
    log.info(
        "inputs: %d sections, %d synthetic + %d annotated examples, %d subject labels",
        len(sections),
        len(synth),
        len(ann),
        len(labels),
    )
    return {"sections": sections, "synth": synth, "ann": ann, "rejected_ids": rejected, "subject_labels": labels}


def run(cfg: DatasetConfig) -> dict[str, Any]:
    """Build the splits from cfg's inputs and write the outputs; returns the report."""
    try:
        inputs = read_inputs(cfg)
    except (FileNotFoundError, RecordError) as e:
        raise StageError(f"{e} (previous outputs left untouched)") from None
    pre, sft, report = build(cfg, **inputs)
    with replace_outputs(cfg.output_dir, OUTPUTS) as outs:
        for name, data, kind in (("pretrain", pre, "text"), ("sft", sft, "example")):
            for s in SPLITS:
                write_records(outs / name / f"{s}.jsonl", data[s], kind)
        write_json(outs / "data_report.json", report)
        write_json(outs / "metrics.json", metrics(report))
    log.info(
        "pretrain %s | sft %s | removed %s -> %s",
        {s: len(pre[s]) for s in SPLITS},
        {s: len(sft[s]) for s in SPLITS},
        {k: v for k, v in report["removed_counts"].items() if v},
        cfg.output_dir,
    )
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(DatasetConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
