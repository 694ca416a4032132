"""What the training stages (pretrain, sft) share: precision, resume, throughput/MFU logging, DeepSpeed, TensorBoard.

Import-light: torch/transformers are imported inside the functions, so importing this module is cheap.

    from tutorforge.training.training import (select_precision, precision_flags, find_resume_checkpoint,
        throughput_callback, add_callback_first, deepspeed_config, write_deepspeed_config, setup_tensorboard,
        train_log_records, dist_info, peak_flops, estimate_mfu)

All functions work the same under a plain `python -m stages.X` run and under `torchrun` / `deepspeed` /
`accelerate launch` (the launchers set RANK/LOCAL_RANK/WORLD_SIZE; HF `Trainer` picks them up).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tutorforge.core.io import write_json

# Peak dense bf16 (fp16 for V100/T4) tensor-core FLOP/s per device, no sparsity; matched by substring of
# torch.cuda.get_device_name() (first match wins, so more specific names come first).
PEAK_FLOPS: list[tuple[str, float]] = [
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("V100", 125e12),
    ("T4", 65e12),
]

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def cpu_has_bf16() -> bool:
    """True when this x86 CPU has native bf16 instructions (avx512_bf16 or AMX), where bf16 autocast is ~3x fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def select_precision(precision: str = "auto") -> str:
    """Resolve `auto|bf16|fp16|fp32` to a concrete one for this hardware.

    auto: CUDA with bf16 support -> bf16; older CUDA -> fp16; CPU with avx512_bf16/AMX -> bf16; else fp32.
    An explicit value is returned unchanged (fp16 on CPU is refused: autocast fp16 on CPU is slow and unscaled).
    """
    precision = precision.lower()
    if precision not in {"auto", "bf16", "fp16", "fp32"}:
        raise ValueError(f"precision must be auto|bf16|fp16|fp32, got {precision!r}")
    import torch

    cuda = torch.cuda.is_available()
    if precision == "fp16" and not cuda:
        raise ValueError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    if precision != "auto":
        return precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


def precision_flags(precision: str) -> dict[str, bool]:
    """TrainingArguments keyword flags (`bf16`, `fp16`) for a resolved precision (mixed precision, fp32 master weights)."""
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def dist_info() -> dict[str, int | bool]:
    """rank, local_rank, world_size and is_main from the launcher's environment (1 process when not launched)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {"rank": rank, "local_rank": int(os.environ.get("LOCAL_RANK", "0")), "world_size": world,
            "is_main": rank == 0}


def find_resume_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """Newest COMPLETE `checkpoint-<step>` dir under `checkpoint_dir` (has trainer_state.json), or None.

    A checkpoint half-written when a run was killed lacks trainer_state.json (Trainer writes it last) and is skipped,
    so the run resumes from the previous good one.
    """
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    found = []
    for p in root.iterdir():
        m = CHECKPOINT_RE.match(p.name)
        if m and p.is_dir() and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return str(max(found)[1]) if found else None


def peak_flops(device_name: str | None = None) -> float | None:
    """Peak bf16 FLOP/s of one device, by `torch.cuda.get_device_name()` (current device if None); None if unknown/CPU."""
    if device_name is None:
        import torch

        if not torch.cuda.is_available():
            return None
        device_name = torch.cuda.get_device_name()
    for key, flops in PEAK_FLOPS:
        if key.lower() in device_name.lower():
            return flops
    return None


def estimate_mfu(n_params: int, tokens_per_s: float, peak_flops_per_s: float | None, n_devices: int = 1) -> float | None:
    """Model FLOPs utilisation = 6 * N * tokens/s / (peak FLOP/s * devices) (Kaplan/PaLM approximation, no attention
    term); `tokens_per_s` is the global rate over all devices. None when the peak is unknown (e.g. CPU)."""
    if not peak_flops_per_s or n_devices < 1:
        return None
    return 6.0 * n_params * tokens_per_s / (peak_flops_per_s * n_devices)


def throughput_callback(n_params: int, tokens_per_step: int | None = None, device_name: str | None = None) -> Any:
    """A transformers `TrainerCallback` adding `tokens_per_s` (global, training time only: eval/save excluded) and,
    on a known GPU, `mfu` to each training log entry (in `state.log_history`, hence in TensorBoard and train_log).

    Tokens come from `state.num_input_tokens_seen` (set `include_num_input_tokens_seen=True` in TrainingArguments)
    or, when that stays 0, from `tokens_per_step` (global tokens per optimizer step, e.g. batch*accum*world*block).
    Install it with `add_callback_first(trainer, cb)` so logging callbacks (TensorBoard) see the added keys.
    """
    from transformers import TrainerCallback

    peak = peak_flops(device_name)

    class ThroughputCallback(TrainerCallback):
        def __init__(self) -> None:
            self.train_seconds = 0.0
            self._t0: float | None = None
            self._last_tokens: int | None = None
            self._last_step = 0

        def _sync(self) -> None:
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()

        def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001
            self._last_tokens = state.num_input_tokens_seen
            self._last_step = state.global_step
            self.train_seconds = 0.0

        def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001
            self._sync()
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            if self._t0 is not None:
                self._sync()
                self.train_seconds += time.perf_counter() - self._t0
                self._t0 = None

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs is None or "loss" not in logs or self.train_seconds <= 0:
                return
            if state.num_input_tokens_seen:
                tokens = state.num_input_tokens_seen - (self._last_tokens or 0)
            else:
                tokens = (tokens_per_step or 0) * (state.global_step - self._last_step)
            tps = tokens / self.train_seconds
            extra: dict[str, float] = {"tokens_per_s": round(tps, 2)}
            mfu = estimate_mfu(n_params, tps, peak, int(os.environ.get("WORLD_SIZE", "1")))
            if mfu is not None:
                extra["mfu"] = round(mfu, 4)
            logs.update(extra)
            if state.log_history and state.log_history[-1].get("step") == state.global_step:
                state.log_history[-1].update(extra)
            self._last_tokens = state.num_input_tokens_seen
            self._last_step = state.global_step
            self.train_seconds = 0.0

    return ThroughputCallback()


def log_callback(logger: Any, max_steps: int | None = None) -> Any:
    """A `TrainerCallback` writing one log line per Trainer log entry on the main process:
    `step 120/300 (40%): loss 3.210 eval_loss - lr 8.1e-04 tokens/s 3400` (install after `throughput_callback`)."""
    from transformers import TrainerCallback

    class LogCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if not state.is_world_process_zero or not logs:
                return
            total = max_steps or state.max_steps or 0
            pct = f" ({100 * state.global_step / total:.0f}%)" if total else ""
            parts = [f"{k} {logs[k]:.4g}" for k in ("loss", "eval_loss", "learning_rate", "tokens_per_s", "mfu")
                     if isinstance(logs.get(k), int | float)]
            if parts:
                logger.info("step %d/%s%s: %s", state.global_step, total or "?", pct, ", ".join(parts))

    return LogCallback()


def add_callback_first(trainer: Any, callback: Any) -> None:
    """Put `callback` first in the trainer's callback list (so keys it adds to `logs` reach TensorBoard etc.)."""
    trainer.callback_handler.callbacks.insert(0, callback)


def setup_tensorboard(log_dir: str | Path) -> list[str]:
    """Point transformers' TensorBoard callback at `log_dir` (transformers 5: env TENSORBOARD_LOGGING_DIR, since
    `logging_dir` is gone); returns the `report_to` list (["tensorboard"], or [] when tensorboard isn't installed)."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        return []
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(log_dir)
    return ["tensorboard"]


def deepspeed_config(stage: int = 2, offload: bool = False, precision: str = "bf16", torch_optimizer: bool = True) -> dict:
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


def train_log_records(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trainer `state.log_history` -> one record per logged step, sorted by step:
    `{step, epoch, loss, eval_loss, lr, grad_norm, tokens_per_s, mfu}` (None where not logged at that step).
    Training and evaluation entries of the same step are merged; the final summary entry (train_runtime...) is
    skipped. Because log_history is saved in every checkpoint, a resumed run still yields the whole curve."""
    keys = {"loss": "loss", "eval_loss": "eval_loss", "learning_rate": "lr", "grad_norm": "grad_norm",
            "tokens_per_s": "tokens_per_s", "mfu": "mfu", "epoch": "epoch"}
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "step" not in entry or not ({"loss", "eval_loss"} & entry.keys()):
            continue
        rec = by_step.setdefault(int(entry["step"]), {"step": int(entry["step"]), **{v: None for v in keys.values()}})
        for k, v in keys.items():
            if k in entry and entry[k] is not None:
                rec[v] = float(entry[k])
    return [by_step[s] for s in sorted(by_step)]


def dumps_config(cfg: dict[str, Any]) -> str:
    """Canonical JSON of a config dict (for logging the effective training settings)."""
    return json.dumps(cfg, sort_keys=True, default=str)
