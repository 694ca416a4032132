"""pretrain: a Llama-architecture decoder LM on the pretraining splits, from scratch or continued from a base model.

    python -m stages.pretrain                                       # params.yaml [pretrain], profile cpu (~3-4 min)
    python -m stages.pretrain -S pretrain.max_steps=20 -S pretrain.output=/tmp/pt      # a quick run
    python -m stages.pretrain -S pretrain.base_model=smollm2        # continued pretraining (tokenizer stage copies its)
    dvc exp run -S pretrain.profile=gpu-h100                        # a GPU profile (preset/batch/precision/steps)
    torchrun --nproc_per_node 2 -m stages.pretrain -S pretrain.deepspeed.enabled=true   # DeepSpeed ZeRO
    accelerate launch -m stages.pretrain                            # any standard launcher works (HF Trainer)

Reads `pretrain.input`/{train,validation}.jsonl and the tokenizer dir `pretrain.tokenizer`, trains
(tutorforge/training/pretrain.py) and writes into `pretrain.output`: model/ (replaced atomically), train_log.jsonl,
report.json (DVC metrics) and checkpoints/ (kept between runs: a rerun of the same run resumes from the newest
complete checkpoint, any other run clears them first). The selected profile (`pretrain.profiles.<profile>`) is
merged into the section on load; a missing input split fails the stage before anything is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.records import RecordError, read_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.training.models import local_dir_problem
from tutorforge.training.pretrain import PretrainConfig, pretrain

SECTION = "pretrain"


def run(cfg: PretrainConfig) -> dict[str, Any]:
    """Pretrain on cfg.input and write the outputs; returns the report ({} on processes other than rank 0)."""
    for split in ("train", "validation"):  # bad input fails here: before torch, checkpoints and outputs are touched
        path = Path(cfg.input) / f"{split}.jsonl"
        if not path.is_file():
            raise StageError(f"{path} does not exist (run the dataset stage first)")
        try:
            if not read_records(path, "text"):
                raise StageError(f"{path} holds no records (run the dataset stage first)")
        except RecordError as e:
            raise StageError(str(e)) from None
    problem = local_dir_problem(cfg.tokenizer, "tokenizer_config.json")
    if problem:
        raise StageError(f"pretrain.tokenizer: {problem} (run the tokenizer stage first)")
    return pretrain(cfg)


def main(argv: list[str] | None = None) -> int:
    return stage_main(PretrainConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
