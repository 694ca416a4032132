"""select: active learning: score the unlabeled pool with the current model and pick a diverse batch for teachers.

    python -m stages.select                                              # params.yaml [select]
    python -m stages.select -S select.model=artifacts/sft/merged -S select.output_dir=/tmp/select
    python -m stages.select -S select.batch_size=20 -S select.round=2 -S select.embedder=model
    dvc repro --single-item select
    tutorforge label select-push                                         # then push the batch to Label Studio

Reads `select.sections` and `select.synth` (the pool) and the annotations stage's outputs (`select.labels`,
`select.annotations`, `select.annotations_report`: what is already labeled or reviewed; missing = nothing yet), scores
and embeds the pool (tutorforge/selection/select.py) and writes into `select.output_dir`: selection.jsonl (one record
per picked item, with its score and reasons) and report.json (DVC metrics).
"""

from __future__ import annotations

from typing import Any

from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.selection.select import SelectConfig, read_inputs, select_batch, write_outputs
from tutorforge.training.models import local_dir_problem

SECTION = "select"


def run(cfg: SelectConfig) -> dict[str, Any]:
    """Select a batch from the pool and write the outputs; returns the report."""
    try:
        inputs = read_inputs(cfg)
    except (FileNotFoundError, RecordError) as e:
        raise StageError(str(e)) from None
    problem = local_dir_problem(cfg.model, "config.json")
    if problem:
        raise StageError(f"select.model: {problem} (run the sft stage first)")
    selection, report = select_batch(cfg, **inputs)
    write_outputs(cfg, selection, report)
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(SelectConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
