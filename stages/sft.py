"""sft: LoRA / QLoRA (4-bit NF4) / full fine-tuning of the pretrained model on the chat examples.

    python -m stages.sft                                                  # params.yaml [sft] + seed -> artifacts/sft/
    python -m stages.sft -S sft.mode=qlora -S sft.max_steps=20            # 4-bit NF4 base (bitsandbytes, CPU too)
    python -m stages.sft -S sft.base_model=smollm2 -S sft.tokenizer='' -S sft.output=/tmp/sft  # dir/alias/hub id
    python -m stages.sft -S sft.packing=false                             # pad each example instead of packing
    torchrun --nproc_per_node 2 -m stages.sft -S sft.deepspeed.enabled=true
    dvc repro --single-item sft

Reads the example records `sft.train` / `sft.validation`, the base model and the tokenizer, trains
(tutorforge/training/sft.py) and writes into `sft.output`: adapter/ and merged/ (each replaced atomically),
train_log.jsonl, report.json (DVC metrics) and checkpoints/ (kept between runs: a rerun of the same inputs/params
resumes from the newest complete checkpoint, any other run clears them first). The selected profile
(`sft.profiles.<profile>`) is merged into the section on load; a missing split fails the stage before anything is
touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.records import RecordError, read_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.training.models import local_dir_problem
from tutorforge.training.sft import SFTConfig, run_sft

SECTION = "sft"


def run(cfg: SFTConfig) -> dict[str, Any]:
    """Fine-tune and write the outputs; returns the report ({} on processes other than rank 0)."""
    for path in (cfg.train, cfg.validation):  # bad input fails here: before torch, checkpoints and outputs are touched
        if not Path(path).is_file():
            raise StageError(f"{path} does not exist (run the dataset stage first)")
        try:
            records = read_records(path, "example")
        except RecordError as e:
            raise StageError(str(e)) from None
        if path == cfg.train and not records:
            raise StageError(f"{path} holds no records (run the dataset stage first)")
    if cfg.text:
        if not Path(cfg.text).is_file():
            raise StageError(f'sft.text: {cfg.text} does not exist (run the dataset stage first, or set it to "")')
        try:
            read_records(cfg.text, "text")
        except RecordError as e:
            raise StageError(str(e)) from None
    for key, value, needs in (
        ("base_model", cfg.base_model, "config.json"),
        ("tokenizer", cfg.tokenizer, "tokenizer_config.json"),
    ):
        problem = value and local_dir_problem(value, needs)
        if problem:
            raise StageError(f"sft.{key}: {problem}")
    return run_sft(cfg)


def main(argv: list[str] | None = None) -> int:
    return stage_main(SFTConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
