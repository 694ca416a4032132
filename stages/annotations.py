"""annotations: Label Studio export snapshots -> section labels + instruction examples (+ a report).

    python -m stages.annotations                                         # params.yaml [annotations]
    python -m stages.annotations -S annotations.input=data/annotations -S annotations.output_dir=/tmp/annotations
    python -m stages.annotations -S annotations.conflict_rule=latest -S annotations.sections=/tmp/sections.jsonl
    dvc repro --single-item annotations
    tutorforge label pull                                                # fresh snapshots from Label Studio first

Reads every *.json snapshot in the folder `annotations.input` (sorted by name) and the sections they refer to
(`annotations.sections`; missing = every annotation is reported as orphaned), resolves the tasks
(tutorforge/labelstudio/annotations.py) and writes into `annotations.output_dir`: labels.jsonl, examples.jsonl
(example records, `source: "annotation"`) and report.json (DVC metrics), replaced together (core/outputs.py). A
malformed export fails the stage with an error naming the file and the task before anything is written, so the
previous outputs stay byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tutorforge.core.io import write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError, write_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.labelstudio.annotations import AnnotationsConfig, build
from tutorforge.labelstudio.export import ExportError

SECTION = "annotations"
OUTPUTS = ("labels.jsonl", "examples.jsonl", "report.json")
log = get_logger("stages.annotations")


def run(cfg: AnnotationsConfig) -> dict[str, Any]:
    """Resolve the snapshots of cfg.input and write the outputs; returns the report."""
    files = sorted(Path(cfg.input).glob("*.json"))
    if not files:
        raise StageError(f"no snapshot matches {str(Path(cfg.input) / '*.json')!r} (previous outputs left untouched)")
    log.info("reading %d snapshot(s): %s", len(files), ", ".join(f.name for f in files))
    try:
        labels, examples, report = build(cfg, files)  # everything validated before anything is written
    except (ExportError, RecordError, json.JSONDecodeError) as e:  # RecordError: a bad line of the sections
        raise StageError(f"{e} (previous outputs left untouched)") from None
    with replace_outputs(cfg.output_dir, OUTPUTS) as outs:
        write_jsonl(outs / "labels.jsonl", labels)
        write_records(outs / "examples.jsonl", examples, "example")
        write_json(outs / "report.json", report)
    log.info(
        "wrote %d labels, %d examples (%s); %d orphan(s), %d disagreement(s) -> %s",
        len(labels),
        len(examples),
        report["examples_by_kind"],
        report["n_orphans"],
        report["n_disagreements"],
        cfg.output_dir,
    )
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(AnnotationsConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
