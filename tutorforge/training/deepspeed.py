"""DeepSpeed ZeRO for the HF Trainer: the `deepspeed` table of pretrain/sft params and the JSON config it becomes.

    pretrain:
      deepspeed: {enabled: true, stage: 2, offload: false}     # -> <output>/checkpoints/ds_config.json

    path = deepspeed_config_file(cfg.deepspeed, ckpt_dir, precision)   # None when disabled
    TrainingArguments(..., deepspeed=path)                             # launch with torchrun / deepspeed

Only the JSON is written here; `deepspeed` itself is imported by transformers when the Trainer starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from tutorforge.core.config import forbid_extra
from tutorforge.core.io import write_json

DS_CONFIG_FILE = "ds_config.json"  # inside the stage's checkpoints dir

ZeroStage = Annotated[int, Field(ge=0, le=3)]


@forbid_extra
@dataclass
class DeepSpeedConfig:
    """The `deepspeed` table of the pretrain and sft sections."""

    enabled: bool = False
    """Train with DeepSpeed ZeRO (launch with torchrun / deepspeed / accelerate)."""
    stage: ZeroStage = 2
    """ZeRO stage 0-3: 1 shards optimizer state, 2 also gradients, 3 also parameters."""
    offload: bool = False
    """Move optimizer state (and parameters at stage 3) to CPU RAM."""


def deepspeed_config(
    stage: int = 2, offload: bool = False, precision: str = "bf16", torch_optimizer: bool = True
) -> dict:
    """A DeepSpeed ZeRO config for the HF Trainer integration ("auto" values are filled from TrainingArguments).

    stage 0-3; `offload` moves optimizer state (and params at stage 3) to CPU RAM. `torch_optimizer=True` keeps the
    Trainer's torch AdamW (`zero_force_ds_cpu_optimizer: false`) instead of DeepSpeed's JIT-built CPU Adam (which
    costs ~90 s of g++ on the first run); with `offload` DeepSpeed's CPU Adam is used as it is much faster there.
    """
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"deepspeed stage must be 0..3, got {stage}")
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True}
    if stage >= 2:
        zero.update({"reduce_scatter": True, "allgather_partitions": True})
    if offload and stage >= 1:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": False}
    if offload and stage == 3:
        zero["offload_param"] = {"device": "cpu", "pin_memory": False}
    if stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": "auto",
        "train_batch_size": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "steps_per_print": 1_000_000,
        "wall_clock_breakdown": False,
    }
    if torch_optimizer and not offload:
        cfg["zero_force_ds_cpu_optimizer"] = False
    return cfg


def write_deepspeed_config(path: str | Path, **kwargs: Any) -> str:
    """Write `deepspeed_config(**kwargs)` as JSON at `path` (atomically); returns the path for TrainingArguments."""
    write_json(path, deepspeed_config(**kwargs))
    return str(path)


def deepspeed_config_file(ds: DeepSpeedConfig, ckpt_dir: str | Path, precision: str) -> str | None:
    """Write the JSON config of an enabled `ds` into `ckpt_dir` (for TrainingArguments.deepspeed); None if disabled."""
    if not ds.enabled:
        return None
    return write_deepspeed_config(
        Path(ckpt_dir) / DS_CONFIG_FILE, stage=ds.stage, offload=ds.offload, precision=precision
    )
