"""vision: train the diagram image encoder (SigLIP-style contrastive loss) on the diagrams stage's train split.

    python -m stages.vision                                  # params.yaml [vision] -> artifacts/vision
    python -m stages.vision -S vision.steps=50 -S vision.output=/tmp/vision
    python -m stages.vision -S vision.profile=gpu            # fine-tune google/siglip-base-patch16-224 instead
    dvc repro --single-item vision

Writes encoder/ (a Hugging Face CLIP/SigLIP dir with its image processor and tokenizer: what `tutorforge serve` and
vision_eval load), train_log.jsonl and report.json (DVC metrics) into `vision.output`, replaced as a whole: a failed
run leaves the previous encoder as it was.
"""

from __future__ import annotations

from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.vision.train import VisionConfig, train_encoder

SECTION = "vision"
OUTPUTS = ("encoder", "train_log.jsonl", "report.json")


def run(cfg: VisionConfig) -> dict[str, Any]:
    """Train and save the encoder into cfg.output; returns the report."""
    from tutorforge.vision.encoder import EncoderError

    with replace_outputs(cfg.output, OUTPUTS) as outs:
        try:
            report = train_encoder(cfg, outs)
        except (RecordError, FileNotFoundError, EncoderError, ValueError) as e:  # no dataset, bad records, bad init
            raise StageError(str(e)) from None
        write_json(outs / "report.json", report)
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(VisionConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
