"""Benchmark: the training stages' throughput against a plain PyTorch loop (same model, data, precision, steps).

    .venv/bin/python -m benchmarks.train                        # all benches (pretrain, sft, sft-stage)
    .venv/bin/python -m benchmarks.train --only sft-stage --rounds 1  # the SFT stage vs a plain peft fp32 loop
    .venv/bin/python -m benchmarks.train --only sft --sft-threads 1   # SFT packing vs padding only
    .venv/bin/python -m benchmarks.train --only pretrain --steps 40 --rounds 2 --json /tmp/bench_train.json

bench_pretrain():
1. Data: artifacts/dataset/pretrain + artifacts/tokenizer when they exist, else a generated school-like corpus and a
   tokenizer trained on it (tutorforge/corpus/synthetic_text.py).
2. Stage path: `tutorforge.training.pretrain.pretrain()` (HF Trainer, packing, cosine schedule, callbacks, tokens/s logging) with
   evaluation and checkpoints pushed past the last step, timed by a callback at each optimizer step's end.
3. Baseline: a hand-written loop on the same packed blocks, the same Llama config and seed, the same precision
   (bf16 autocast where available), AdamW + grad clipping + cosine LR, timed the same way.
Tokens/s = tokens per step / MEDIAN wall time between consecutive optimizer-step ends after `warmup` steps (so
start-up, the first slow steps and the final save are left out of both, and a noisy neighbour on a shared machine
only shifts a few intervals). The mean-based rate and tokens per process-CPU-second (robust when the machine is
shared) are reported too. `rounds` alternates the two paths and keeps each
one's best round. Prints the ratio stage/baseline (goal >= 0.85).

bench_sft(): SFT useful (non-pad) tokens/s, packing (tutorforge.training.sft's rows, block-diagonal attention) vs padding each
example to the longest of its batch: same LoRA model, same examples in every step, same steps (artifacts when present,
else tutorforge/training/tiny.py). Prints the wall and CPU-time ratios (goal >= 1.5).

sft-stage (benchmarks/sft_stage.py): the SFT stage as `dvc repro` runs it (TRL, top-layer LoRA, logits at labelled
positions, packed rows) vs the plain peft fp32 loop on the same model and examples (aim >= 3x).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _data(work: Path) -> tuple[Path, Path]:
    """(pretrain split dir, tokenizer dir): the pipeline's artifacts if present, else generated ones."""
    data, tok = ROOT / "artifacts/dataset/pretrain", ROOT / "artifacts/tokenizer"
    if (data / "train.jsonl").exists() and (tok / "tokenizer.json").exists():
        return data, tok
    from tutorforge.corpus.synthetic_text import write_pretrain_corpus
    from tutorforge.training.tokenizer import TokenizerConfig, build_tokenizer

    data = write_pretrain_corpus(work / "pretrain", n_train=400, n_val=20, n_test=5)
    build_tokenizer(TokenizerConfig(input=str(data / "train.jsonl"), output=str(work / "tok"), vocab_size=8192))
    return data, work / "tok"


def _rate(ends: list[float], warmup: int, tokens_per_step: int, median: bool = True) -> float:
    """Tokens/s after `warmup` steps: from the median step interval (default) or from the whole span (mean).
    `ends` holds wall-clock (perf_counter) or process CPU (process_time) stamps."""
    import statistics

    gaps = [b - a for a, b in zip(ends[warmup - 1 : -1], ends[warmup:], strict=True)]
    return tokens_per_step / (statistics.median(gaps) if median else sum(gaps) / len(gaps))


def run_stage(data: Path, tok: Path, out: Path, steps: int, seed: int, **cfg_kw: object) -> list[float]:
    """The pretrain stage's training path; returns perf_counter() at each optimizer step's end."""
    from transformers import TrainerCallback

    from tutorforge.training.pretrain import PretrainConfig, pretrain

    ends: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            ends.append(time.perf_counter())
            cpu.append(time.process_time())

    cpu: list[float] = []
    cfg = PretrainConfig(
        input=str(data),
        tokenizer=str(tok),
        output=str(out),
        max_steps=steps,
        eval_steps=10 * steps,
        save_steps=10 * steps,
        logging_steps=10,
        eval_max_blocks=8,
        seed=seed,
        resume=False,
        **cfg_kw,
    )
    pretrain(cfg, callbacks=[StepTimer()])
    return ends, cpu


def run_plain(
    data: Path,
    tok: Path,
    steps: int,
    seed: int,
    preset: str = "tiny",
    block_size: int = 256,
    batch_size: int = 8,
    learning_rate: float = 1e-3,
    warmup_steps: int = 30,
) -> list[float]:
    """A plain PyTorch loop on the same blocks/model/precision; returns perf_counter() at each step's end."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, set_seed

    from tutorforge.training.hardware import select_precision
    from tutorforge.training.pretrain import load_texts, model_config, pack_documents

    set_seed(seed)
    t = AutoTokenizer.from_pretrained(tok)
    blocks = pack_documents(load_texts(data / "train.jsonl"), t, block_size)
    special = {"bos_token_id": t.bos_token_id, "eos_token_id": t.eos_token_id, "pad_token_id": t.pad_token_id}
    model = LlamaForCausalLM(model_config(preset, len(t), None, **special)).train()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(select_precision("auto"))
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=0.1)

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, steps - warmup_steps)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(blocks, batch_size=batch_size, shuffle=True, drop_last=True, generator=gen)
    ends: list[float] = []
    cpu: list[float] = []
    it = iter(loader)
    for _ in range(steps):
        try:
            x = next(it)
        except StopIteration:
            it = iter(loader)
            x = next(it)
        with torch.autocast("cpu" if not torch.cuda.is_available() else "cuda", dtype=dtype, enabled=dtype is not None):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        ends.append(time.perf_counter())
        cpu.append(time.process_time())
    return ends, cpu


def bench_pretrain(steps: int = 30, warmup: int = 5, rounds: int = 3, seed: int = 1337) -> dict:
    """Stage (HF Trainer) vs plain loop tokens/s on the tiny preset (block 256, batch 8); best of `rounds`."""
    from tutorforge.training.hardware import select_precision

    tokens_per_step = 8 * 256
    stage, plain, stage_mean, plain_mean, stage_cpu, plain_cpu = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, tok = _data(work)
        for r in range(rounds):
            ends, cpu = run_stage(data, tok, work / f"stage{r}", steps, seed)
            stage.append(_rate(ends, warmup, tokens_per_step))
            stage_mean.append(_rate(ends, warmup, tokens_per_step, median=False))
            stage_cpu.append(_rate(cpu, warmup, tokens_per_step, median=False))
            ends, cpu = run_plain(data, tok, steps, seed)
            plain.append(_rate(ends, warmup, tokens_per_step))
            plain_mean.append(_rate(ends, warmup, tokens_per_step, median=False))
            plain_cpu.append(_rate(cpu, warmup, tokens_per_step, median=False))
            print(
                f"round {r + 1}/{rounds}: stage {stage[-1]:.0f} tok/s (mean {stage_mean[-1]:.0f}, "
                f"{stage_cpu[-1]:.0f} tok per CPU-s), plain loop {plain[-1]:.0f} tok/s (mean {plain_mean[-1]:.0f}, "
                f"{plain_cpu[-1]:.0f} tok per CPU-s)",
                flush=True,
            )
    res = {
        "bench": "pretrain",
        "precision": select_precision("auto"),
        "steps": steps,
        "warmup_steps_excluded": warmup,
        "stage_tokens_per_s": round(max(stage), 1),
        "plain_tokens_per_s": round(max(plain), 1),
        "ratio": round(max(stage) / max(plain), 3),
        "ratio_mean_based": round(max(stage_mean) / max(plain_mean), 3),
        "ratio_cpu_time": round(max(stage_cpu) / max(plain_cpu), 3),
        "rounds": {
            "stage": stage,
            "plain": plain,
            "stage_mean": stage_mean,
            "plain_mean": plain_mean,
            "stage_tokens_per_cpu_s": stage_cpu,
            "plain_tokens_per_cpu_s": plain_cpu,
        },
    }
    print(
        f"pretrain: stage {res['stage_tokens_per_s']:.0f} tok/s vs plain PyTorch loop "
        f"{res['plain_tokens_per_s']:.0f} tok/s -> ratio {res['ratio']:.2f} (goal >= 0.85); "
        f"per CPU-second (robust on a shared machine): ratio {res['ratio_cpu_time']:.2f}"
    )
    return res


def _sft_inputs(seed: int) -> tuple[Any, Any, list[dict], str]:
    """(tokenizer, model, example records, source): the pipeline's artifacts when present, else the SFT test fixtures."""
    import torch

    from tutorforge.core.io import read_jsonl
    from tutorforge.training.models import load_causal_lm, load_tokenizer

    data, model_dir, tok_dir = (
        ROOT / "artifacts/dataset/sft/train.jsonl",
        ROOT / "artifacts/pretrain/model",
        ROOT / "artifacts/tokenizer",
    )
    if data.exists() and (model_dir / "config.json").exists():
        tok = load_tokenizer(tok_dir if (tok_dir / "tokenizer.json").exists() else model_dir)
        model = load_causal_lm(model_dir, dtype=torch.float32)
        return tok, model, list(read_jsonl(data)), "artifacts/pretrain/model + artifacts/dataset/sft/train.jsonl"
    from tutorforge.training.tiny import make_model, make_records, make_tokenizer

    tok = make_tokenizer()
    model = make_model(tok, hidden=256, layers=4)  # the shape of the pretrain stage's tiny preset
    return (
        tok,
        model,
        make_records(400, seed=seed),
        "fixtures (random 4x256 Llama, tutorforge/training/tiny.py records)",
    )


def bench_sft(
    steps: int = 6,
    rounds: int = 2,
    seed: int = 1337,
    examples_per_step: int = 32,
    max_length: int = 256,
    threads: int | None = None,
) -> dict:
    """SFT useful (non-pad) tokens/s: packed rows (tutorforge.training.sft_data, as tutorforge.training.sft trains) vs padding each
    example to the longest one of its batch. Same LoRA model (the stage's target modules), same precision, same
    steps, and each step trains on the SAME examples in both modes (so useful tokens are equal and the ratio is the
    time ratio); step 0 is an untimed warm-up. `rounds` alternates the modes and keeps each one's best round.
    Also reports process CPU seconds: with `threads=1` that ratio is robust on a shared, overloaded machine."""
    import random

    import torch
    from peft import LoraConfig, get_peft_model

    from tutorforge.training.hardware import select_precision
    from tutorforge.training.sft_data import PackedCollator, PaddedCollator, encode_records, pack_examples

    tok, base, records, source = _sft_inputs(seed)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    examples, _ = encode_records(tok, records, max_length)
    lengths = [len(e["input_ids"]) for e in examples]
    print(
        f"[sft] {len(examples)} examples from {source}: {sum(lengths) / len(lengths):.0f} tokens/example on average"
        f" (max {max(lengths)}); {examples_per_step} examples/step, rows of {max_length}, {steps} timed steps/mode",
        flush=True,
    )
    base.config.use_cache = False  # a KV cache would turn off the packed (block-diagonal) mask
    # RoPE positions are computed per step: rows longer than the small model was built for only cost time
    base.config.max_position_embeddings = max(max_length, base.config.max_position_embeddings)
    torch.manual_seed(seed)
    model = get_peft_model(
        base,
        LoraConfig(
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        ),
    )
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    precision = select_precision("auto")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    saved_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    rng = random.Random(seed)
    batches = [[examples[rng.randrange(len(examples))] for _ in range(examples_per_step)] for _ in range(steps + 1)]
    collate = {
        "padded": PaddedCollator(tok.pad_token_id),
        "packed": lambda exs: PackedCollator(tok.pad_token_id)(pack_examples(exs, max_length)),
    }
    best: dict[str, dict] = {}
    for r in range(rounds):
        for name in ("padded", "packed"):
            useful = computed = rows = 0
            seconds = cpu = 0.0
            for s, exs in enumerate(batches):
                batch = collate[name](exs)
                n = int(batch.pop("n_tokens"))
                batch = {k: v.to(device) for k, v in batch.items()}
                t, c = time.perf_counter(), time.process_time()
                with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
                    loss = model(**batch).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                if device == "cuda":
                    torch.cuda.synchronize()
                if s:
                    seconds += time.perf_counter() - t
                    cpu += time.process_time() - c
                    useful, computed = useful + n, computed + batch["input_ids"].numel()
                    rows += batch["input_ids"].shape[0]
            res = {
                "useful_tokens_per_s": round(useful / seconds, 1),
                "seconds": round(seconds, 3),
                "useful_tokens_per_cpu_s": round(useful / cpu, 1),
                "cpu_seconds": round(cpu, 3),
                "useful_tokens": useful,
                "computed_tokens": computed,
                "pad_fraction": round(1 - useful / computed, 4),
                "rows_per_step": round(rows / steps, 2),
            }
            print(
                f"round {r + 1}/{rounds} {name}: {res['rows_per_step']} rows/step, pad {100 * res['pad_fraction']:.1f}%"
                f", {res['useful_tokens_per_s']:.0f} useful tok/s ({res['useful_tokens_per_cpu_s']:.0f} per CPU s)",
                flush=True,
            )
            if name not in best or res["useful_tokens_per_s"] > best[name]["useful_tokens_per_s"]:
                best[name] = res
    torch.set_num_threads(saved_threads)
    ratio = round(best["packed"]["useful_tokens_per_s"] / best["padded"]["useful_tokens_per_s"], 3)
    cpu_ratio = round(best["padded"]["cpu_seconds"] / best["packed"]["cpu_seconds"], 3)
    print(
        f"sft: packed {best['packed']['useful_tokens_per_s']:.0f} vs padded {best['padded']['useful_tokens_per_s']:.0f}"
        f" useful tok/s -> {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU time (goal >= 1.5)"
    )
    return {
        "bench": "sft",
        "source": source,
        "precision": precision,
        "examples": len(examples),
        "steps": steps,
        "examples_per_step": examples_per_step,
        "max_length": max_length,
        "packed": best["packed"],
        "padded": best["padded"],
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "threads": threads or saved_threads,
    }


def _sft_stage(**kw: Any) -> dict:
    from benchmarks.sft_stage import bench_sft_stage

    return bench_sft_stage(**kw)


BENCHES = {"pretrain": bench_pretrain, "sft": bench_sft, "sft-stage": _sft_stage}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these benches")
    ap.add_argument("--steps", type=int, help="pretrain: optimizer steps per round (default 30)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sft-threads", type=int, help="sft: torch threads (1 = CPU-time ratio robust to a busy machine)")
    ap.add_argument(
        "--sft-max-length",
        type=int,
        default=256,
        help="sft: tokens per sequence/row (256 = the CPU default; the GPU profiles use 1024-2048)",
    )
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    import torch

    results = {
        "machine": {
            "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        }
    }
    for name in a.only or list(BENCHES):
        kwargs = {"rounds": a.rounds} | ({"steps": a.steps} if name in {"pretrain", "sft-stage"} and a.steps else {})
        kwargs |= {"threads": a.sft_threads, "max_length": a.sft_max_length} if name == "sft" else {}
        results[name] = BENCHES[name](**kwargs)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
