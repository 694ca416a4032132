"""Trainer callbacks and logs: tokens/s + MFU in every log entry, one log line per entry, TensorBoard, train_log.

    trainer.remove_callback(PrinterCallback)
    add_callback_first(trainer, throughput_callback(n_params, tokens_per_step))   # before TensorBoard sees the logs
    trainer.add_callback(log_callback(log, max_steps))
    write_jsonl(out / "train_log.jsonl", train_log_records(trainer.state.log_history))

Import-light: transformers/torch are imported inside the functions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tutorforge.training.hardware import estimate_mfu, peak_flops


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
            parts = [
                f"{k} {logs[k]:.4g}"
                for k in ("loss", "eval_loss", "learning_rate", "tokens_per_s", "mfu")
                if isinstance(logs.get(k), int | float)
            ]
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


def train_log_records(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trainer `state.log_history` -> one record per logged step, sorted by step:
    `{step, epoch, loss, eval_loss, lr, grad_norm, tokens_per_s, mfu}` (None where not logged at that step).
    Training and evaluation entries of the same step are merged; the final summary entry (train_runtime...) is
    skipped. Because log_history is saved in every checkpoint, a resumed run still yields the whole curve."""
    keys = {
        "loss": "loss",
        "eval_loss": "eval_loss",
        "learning_rate": "lr",
        "grad_norm": "grad_norm",
        "tokens_per_s": "tokens_per_s",
        "mfu": "mfu",
        "epoch": "epoch",
    }
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "step" not in entry or not ({"loss", "eval_loss"} & entry.keys()):
            continue
        rec = by_step.setdefault(int(entry["step"]), {"step": int(entry["step"]), **{v: None for v in keys.values()}})
        for k, v in keys.items():
            if k in entry and entry[k] is not None:
                rec[v] = float(entry[k])
    return [by_step[s] for s in sorted(by_step)]
