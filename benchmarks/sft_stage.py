"""SFT stage vs a plain peft fp32 loop: useful (non-pad) training tokens/s on the same model and data, same run.

    .venv/bin/python -m benchmarks.train --only sft-stage            # params.yaml [sft] as the stage runs it
    .venv/bin/python -m benchmarks.train --only sft-stage --steps 8 --rounds 1

Stage:    tutorforge.training.sft as `dvc repro` runs it: its model (LoRA on the top `sft.lora_layers` layers), its
          packed rows (block-diagonal attention), TRL's SFTTrainer with logits at labelled positions only
          (tutorforge/training/sft_trainer.py), its precision, its frozen-layer cache (training/frozen_cache.py: an
          epoch after the first skips the frozen layers); optimizer-step ends timed by a callback. With the cache on,
          the rows are cut to steps + 1 batches and trained for two epochs, each timed; the stage's rate is the mean
          over `sft.epochs` epochs (the first at the epoch-1 rate, the rest at the cached rate).
Baseline: the plain loop a user would write with peft: LoRA (same r/alpha/targets) on EVERY layer, one example per row
          padded to the longest of its batch, the model's own full-logits loss, AdamW, fp32; `sft.batch_size`
          examples per step, drawn from the same encoded examples.
Both run on sft.base_model + sft.tokenizer + sft.train (the pipeline's artifacts: run `dvc repro sft` first).
Tokens/s = useful tokens / wall seconds over the steps after the first (warm-up) one; each path keeps its best round.
Prints the ratio stage/baseline (aim >= 3x).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _rate(marks: list[tuple[float, int]]) -> tuple[float, int, float]:
    """(tokens/s, tokens, seconds) between the first and the last (time, tokens seen) mark."""
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return (n1 - n0) / (t1 - t0), n1 - n0, t1 - t0


def stage_rate(cfg: Any, rows: list[dict], tok: Any, steps: int, work: Path) -> dict:
    """The stage's rate on its first epoch and, with the frozen-layer cache on (sft.cache_frozen_layers), on a later
    one: `rows` is cut to steps + 1 batches, trained for two epochs, and each epoch timed after its first step."""
    import torch
    from transformers import TrainerCallback

    from tutorforge.training.hardware import select_precision
    from tutorforge.training.sft import install_frozen_cache, load_model
    from tutorforge.training.sft_data import PackedCollator
    from tutorforge.training.sft_trainer import build_trainer

    precision = select_precision(cfg.precision)
    torch.manual_seed(cfg.seed)
    model = load_model(cfg, precision)
    cache = install_frozen_cache(cfg, model)
    epochs = 2 if cache is not None else 1
    rows = rows[: (steps + 1) * cfg.batch_size]
    marks: list[tuple[float, int]] = []

    class Mark(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN202
            marks.append((time.perf_counter(), state.num_input_tokens_seen))

    args = {
        "output_dir": str(work / "ckpt"),
        "max_steps": (steps + 1) * epochs,
        "per_device_train_batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        # as the stage sets it: left out, TRL's SFTConfig turns activation checkpointing on (~40 % slower here)
        "activation_checkpointing": cfg.gradient_checkpointing,
        "seed": cfg.seed,
        "use_cpu": not torch.cuda.is_available(),
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
    }
    trainer = build_trainer(
        model,
        tok,
        args,
        {"train": rows, "validation": []},
        PackedCollator(tok.pad_token_id, cfg.max_length if cache is not None else None),
        cfg.logits_at_labels_only,
        callbacks=[Mark()],
    )
    trainer.train()
    if cache is not None:
        cache.remove()
    rate, tokens, seconds = _rate(marks[: steps + 1])
    out = {"tokens_per_s": round(rate, 1), "tokens": tokens, "seconds": round(seconds, 2), "precision": precision}
    if cache is not None:
        later, _, later_s = _rate(marks[steps + 1 :])
        # the stage's mean rate over its epochs: the first at `rate`, the rest served from the cache at `later`
        e = max(cfg.epochs, 1.0)
        mean = e / (1 / rate + (e - 1) / later)
        out |= {"first_epoch_tokens_per_s": round(rate, 1), "cached_epoch_tokens_per_s": round(later, 1)}
        out |= {"tokens_per_s": round(mean, 1), "epochs": e, "cache": cache.stats}
    return out


def plain_rate(cfg: Any, examples: list[dict], tok: Any, steps: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from tutorforge.training.models import load_causal_lm
    from tutorforge.training.sft_data import PaddedCollator

    torch.manual_seed(cfg.seed)
    base = load_causal_lm(cfg.base_model, dtype=torch.float32)
    base.config.use_cache = False
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules=list(cfg.target_modules))
    model = get_peft_model(base, lora)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    collate = PaddedCollator(tok.pad_token_id)
    rng = random.Random(cfg.seed)
    marks: list[tuple[float, int]] = []
    seen = 0
    for _ in range(steps + 1):
        batch = collate([examples[rng.randrange(len(examples))] for _ in range(cfg.batch_size)])
        n = int(batch.pop("n_tokens"))
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        seen += n
        marks.append((time.perf_counter(), seen))
    rate, tokens, seconds = _rate(marks)
    return {"tokens_per_s": round(rate, 1), "tokens": tokens, "seconds": round(seconds, 2), "precision": "fp32"}


def bench_sft_stage(steps: int = 6, rounds: int = 1, params: str = str(ROOT / "params.yaml")) -> dict:
    """The stage's SFT tokens/s against the plain peft fp32 loop (see the module docstring)."""
    import tempfile

    from tutorforge.core.config import load_config
    from tutorforge.core.io import read_jsonl
    from tutorforge.training.models import load_tokenizer
    from tutorforge.training.sft import SFTConfig
    from tutorforge.training.sft_data import encode_records, pack_examples, text_windows

    cfg = load_config(SFTConfig, "sft", params)
    if not Path(cfg.train).exists():
        raise SystemExit(
            f"{cfg.train} is missing: run `dvc repro sft` first (the benchmark trains on the stage's data)"
        )
    tok = load_tokenizer(cfg.tokenizer or cfg.base_model)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    examples, _ = encode_records(  # with the stage's loss weights on the replies' openings
        tok, list(read_jsonl(cfg.train)), cfg.max_length, cfg.truncation, cfg.opening_tokens, cfg.opening_weight
    )
    if cfg.text:  # the textbook windows the stage trains on beside the chat examples
        examples += text_windows(tok, cfg.text, cfg.max_length)
    rows = pack_examples(examples, cfg.max_length, cfg.share_system_prompt) if cfg.packing else examples
    print(
        f"[sft-stage] {cfg.base_model}: {len(examples)} examples -> {len(rows)} rows of <= {cfg.max_length} tokens; "
        f"lora_layers {cfg.lora_layers or 'all'}, logits at labels only {cfg.logits_at_labels_only}; "
        f"{steps} timed steps per path, {rounds} round(s)",
        flush=True,
    )
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sft-stage-") as tmp:
        for r in range(rounds):
            for name in ("plain", "stage"):
                res = (
                    plain_rate(cfg, [{k: v for k, v in e.items() if k != "weights"} for e in examples], tok, steps)
                    if name == "plain"
                    else stage_rate(cfg, rows, tok, steps, Path(tmp))
                )
                extra = (
                    f" (epoch 1: {res['first_epoch_tokens_per_s']:.0f}, later epochs from the frozen-layer cache:"
                    f" {res['cached_epoch_tokens_per_s']:.0f}; mean over {res['epochs']:g} epochs)"
                    if "cached_epoch_tokens_per_s" in res
                    else ""
                )
                print(f"round {r + 1}/{rounds} {name}: {res['tokens_per_s']:.0f} useful tok/s{extra}", flush=True)
                if name not in best or res["tokens_per_s"] > best[name]["tokens_per_s"]:
                    best[name] = res
    ratio = round(best["stage"]["tokens_per_s"] / best["plain"]["tokens_per_s"], 2)
    print(
        f"sft-stage: stage {best['stage']['tokens_per_s']:.0f} vs plain peft fp32 loop {best['plain']['tokens_per_s']:.0f}"
        f" useful tok/s -> {ratio:.2f}x (aim >= 3x)"
    )
    return {
        "bench": "sft-stage",
        "base_model": cfg.base_model,
        "stage": best["stage"],
        "plain": best["plain"],
        "ratio": ratio,
    }
