"""vision_eval: the trained diagram encoder vs its zero-shot baseline on held-out diagram families.

    python -m stages.vision_eval                              # params.yaml [vision_eval] -> artifacts/vision_eval
    python -m stages.vision_eval -S vision_eval.baseline=openai/clip-vit-base-patch32   # a pretrained CLIP as baseline
    dvc repro --single-item vision_eval

Writes metrics.json (DVC metrics: top-1/top-3, subject, 3D recommendation, per style, latency, peak memory, for
both models), confusion.png (DVC image plot), predictions.jsonl and report.md into `vision_eval.output`, replaced as
a whole. Metric definitions: tutorforge/vision/evaluate.py.
"""

from __future__ import annotations

from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.vision.evaluate import VisionEvalConfig, evaluate_vision

SECTION = "vision_eval"
OUTPUTS = ("metrics.json", "confusion.png", "predictions.jsonl", "report.md")


def run(cfg: VisionEvalConfig) -> dict[str, Any]:
    """Score the encoders and write the report into cfg.output; returns the metrics."""
    with replace_outputs(cfg.output, OUTPUTS) as outs:
        try:
            metrics = evaluate_vision(cfg, outs)
        except (RecordError, FileNotFoundError, ValueError) as e:  # no dataset or encoder, bad records, bad baseline
            raise StageError(str(e)) from None
        write_json(outs / "metrics.json", metrics)
    return metrics


def main(argv: list[str] | None = None) -> int:
    return stage_main(VisionEvalConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
