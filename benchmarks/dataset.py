"""Benchmark: MinHash-LSH near-duplicate removal vs naive pairwise Jaccard, and the synthetic generator's speed.

    .venv/bin/python -m benchmarks.dataset                      # 100k paragraphs, naive baseline on 2k
    .venv/bin/python -m benchmarks.dataset --docs 20000 --naive-docs 1000 --json /tmp/bench.json

1. Generates N paragraphs (pseudo-words, ~60 words each, seeded) of which ~10% are planted near-duplicates (a few
   words changed) of earlier ones.
2. Runs `tutorforge.text.dedup.minhash_dedup` (the dataset stage's code: MinHash.bulk + MinHashLSH with verified
   candidates) over all N: docs/s and recall of the planted duplicates.
3. Runs it and the naive O(n^2) exact-Jaccard baseline (`naive_near_dups`, same contract) on the same first M
   documents: the speed-up at equal M, their agreement, and the naive cost extrapolated to N (pairs grow as n^2/2).
4. If `tutorforge.synth.generate.generate_deterministic(sections, cfg)` exists: synthetic examples/s on generated sections.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from tutorforge.text.dedup import minhash_dedup, naive_near_dups

ROOT = Path(__file__).resolve().parent.parent


def make_docs(n: int, seed: int = 0, words: int = 60, dup_rate: float = 0.1) -> tuple[list[tuple[str, str]], set[str]]:
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ner", "tu", "sa", "vi", "do", "ren", "pa", "qui", "zo", "mel", "tra", "fen", "gu"]
    vocab = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(30000)})
    docs: list[tuple[str, str]] = []
    planted: set[str] = set()
    for i in range(n):
        if i > 10 and rng.random() < dup_rate:
            w = docs[rng.randrange(i)][1].split()
            w[rng.randrange(len(w))] = rng.choice(vocab)  # one word changed: Jaccard of 3-shingles ~0.9
            planted.add(f"d{i:06d}")
            docs.append((f"d{i:06d}", " ".join(w)))
        else:
            docs.append((f"d{i:06d}", " ".join(rng.choice(vocab) for _ in range(words))))
    return docs, planted


def bench_dedup(args: argparse.Namespace) -> dict:
    docs, planted = make_docs(args.docs, args.seed)
    kw = {"threshold": args.threshold, "num_perm": args.num_perm, "shingle_size": args.shingle_size}
    print(f"[dedup] {args.docs} paragraphs, {len(planted)} planted near-duplicates; MinHash LSH ...", flush=True)
    t, c = time.perf_counter(), time.process_time()
    removed = minhash_dedup(
        docs, **kw, progress_cb=lambda i, n: print(f"  {i}/{n}", flush=True) if i % 20480 == 0 or i == n else None
    )
    t_lsh, c_lsh = time.perf_counter() - t, time.process_time() - c
    recall = len(planted & set(removed)) / max(1, len(planted))
    sub = docs[: args.naive_docs]
    t, c = time.perf_counter(), time.process_time()
    lsh_sub = minhash_dedup(sub, **kw)
    t_lsh_sub, c_lsh_sub = time.perf_counter() - t, time.process_time() - c
    print(f"[dedup] naive pairwise Jaccard on the first {len(sub)} ...", flush=True)
    t, c = time.perf_counter(), time.process_time()
    naive_sub = naive_near_dups(sub, args.threshold, args.shingle_size)
    t_naive, c_naive = time.perf_counter() - t, time.process_time() - c
    m = len(sub)
    naive_full_s = t_naive * (args.docs / m) ** 2  # pair count grows as n^2/2
    both = set(lsh_sub) & set(naive_sub)
    return {
        "docs": args.docs,
        "planted_near_dups": len(planted),
        "lsh_removed": len(removed),
        "lsh_seconds": round(t_lsh, 2),
        "lsh_docs_per_s": round(args.docs / t_lsh, 1),
        "lsh_cpu_seconds": round(c_lsh, 2),
        "lsh_docs_per_cpu_s": round(args.docs / c_lsh, 1),
        "lsh_recall_planted": round(recall, 4),
        "subset_docs": m,
        "subset_lsh_seconds": round(t_lsh_sub, 3),
        "subset_lsh_docs_per_s": round(m / t_lsh_sub, 1),
        "subset_naive_seconds": round(t_naive, 2),
        "subset_naive_docs_per_s": round(m / t_naive, 1),
        "speedup_same_n": round(t_naive / t_lsh_sub, 1),
        "speedup_same_n_cpu": round(c_naive / c_lsh_sub, 1),
        "naive_extrapolated_seconds_full": round(naive_full_s, 0),
        "naive_extrapolated_docs_per_s_full": round(args.docs / naive_full_s, 2),
        "speedup_extrapolated_full": round(naive_full_s / t_lsh, 1),
        "speedup_extrapolated_full_cpu": round(c_naive * (args.docs / m) ** 2 / c_lsh, 1),
        "subset_agreement": {
            "naive_removed": len(naive_sub),
            "lsh_removed": len(lsh_sub),
            "both": len(both),
            "lsh_precision": round(len(both) / max(1, len(lsh_sub)), 4),
            "lsh_recall_vs_naive": round(len(both) / max(1, len(naive_sub)), 4),
        },
    }


def bench_synth(args: argparse.Namespace) -> dict:
    try:
        from tutorforge.synth import generate as synth
    except ImportError as e:
        return {"skipped": f"tutorforge.synth.generate not importable ({e})"}
    gen = getattr(synth, "generate_deterministic", None)
    if gen is None:
        return {"skipped": "tutorforge.synth.generate.generate_deterministic(sections, cfg) not found"}
    from tutorforge.corpus import synthetic_dataset as fx

    cfg = synth.SynthConfig()  # the defaults (not params.yaml), so the number is comparable across commits
    real = Path(args.sections)
    if real.exists():  # the sample corpus' sections, repeated under fresh ids up to --synth-sections
        from tutorforge.core.io import read_jsonl

        base = list(read_jsonl(real))
        sections = [
            {**b, "section_id": f"{b['section_id']}-{k}"}
            for k in range(-(-args.synth_sections // len(base)))
            for b in base
        ][: args.synth_sections]
        origin = f"{len(base)} sections of {real}, repeated"
    else:
        sections = fx.make_sections(args.synth_sections, words=400)
        origin = f"pseudo-word fixture sections ({real} not found)"
    gen(sections[:5], cfg)  # warm-up (imports, caches)
    t, c = time.perf_counter(), time.process_time()
    out = gen(sections, cfg)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    n = len(out) if hasattr(out, "__len__") else sum(1 for _ in out)
    return {
        "sections": len(sections),
        "origin": origin,
        "examples": n,
        "seconds": round(dt, 3),
        "examples_per_s": round(n / dt, 1),
        "examples_per_cpu_s": round(n / dc, 1),
        "sections_per_s": round(len(sections) / dt, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--naive-docs", type=int, default=2000)
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--shingle-size", type=int, default=3)
    p.add_argument("--synth-sections", type=int, default=500)
    p.add_argument(
        "--sections",
        default=str(ROOT / "artifacts" / "segment" / "sections.jsonl"),
        help="real sections for the synth benchmark (repeated up to --synth-sections)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args(argv)
    res = {
        "machine": f"{platform.processor() or platform.machine()}, python {platform.python_version()}",
        "dedup": bench_dedup(a),
        "synth": bench_synth(a),
    }
    d = res["dedup"]
    print(json.dumps(res, indent=2))
    print(
        f"\nMinHash LSH: {d['lsh_docs_per_s']} docs/s on {d['docs']} paragraphs (recall of planted near-dups "
        f"{d['lsh_recall_planted']:.1%}); on {d['subset_docs']} docs {d['speedup_same_n']}x faster than naive "
        f"pairwise Jaccard ({d['subset_naive_docs_per_s']} docs/s); naive extrapolated to {d['docs']}: "
        f"{d['naive_extrapolated_seconds_full']:.0f} s -> {d['speedup_extrapolated_full']}x "
        f"({d['speedup_extrapolated_full_cpu']}x in CPU time)"
    )
    s = res["synth"]
    print(
        "synth:",
        s.get("skipped") or f"{s['examples_per_s']} examples/s ({s['examples']} from {s['sections']} sections)",
    )
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
