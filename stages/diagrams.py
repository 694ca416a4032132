"""diagrams: draw the procedural school-diagram dataset (PNGs + captions, QA, 3D recommendations), split by family.

    python -m stages.diagrams                                   # params.yaml [diagrams] -> artifacts/diagrams
    python -m stages.diagrams -S diagrams.families_per_label=10 -S diagrams.output=/tmp/diagrams
    dvc repro --single-item diagrams

Writes images/ and train/validation/test.jsonl (records: tutorforge/vision/dataset.py) and report.json (DVC
metrics) into `diagrams.output`, replaced as a whole: a failed run leaves the previous dataset as it was. Every
model id a label recommends must have an entry in serve.models3d (the catalogue the served tutor shows).
"""

from __future__ import annotations

from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.stage import StageError, stage_main
from tutorforge.vision.dataset import DiagramsConfig, build_diagrams

SECTION = "diagrams"
OUTPUTS = ("images", "train.jsonl", "validation.jsonl", "test.jsonl", "report.json")
log = get_logger("diagrams")


def run(cfg: DiagramsConfig) -> dict[str, Any]:
    """Draw the dataset into cfg.output; returns the report."""
    with replace_outputs(cfg.output, OUTPUTS) as outs:
        try:
            report = build_diagrams(cfg, outs)
        except ValueError as e:  # a catalogue without an entry the labels recommend
            raise StageError(str(e)) from None
        write_json(outs / "report.json", report)
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(DiagramsConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
