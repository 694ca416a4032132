"""Benchmark: active-learning scoring + selection, batched vs one item at a time (same run, same model, same items).

    .venv/bin/python -m benchmarks.select                        # 10,000 short items; artifacts/sft/merged if built
    .venv/bin/python -m benchmarks.select --items 2000 --baseline-items 100 --batch-size 64 --threads 1

Pool: half sections (subject margin: one forward pass per subject) and half questions (greedy answer of
--max-new-tokens tokens with log-probs and entropy). The batched run scores the whole pool and runs the selection
(embeddings from the model's hidden states, k-means, round-robin); the baseline scores --baseline-items with batch
size 1 (timing a subset: one-at-a-time over 10,000 items takes too long on 2 cores). Prints items/s and the ratio.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pool_items(n: int, seed: int = 0) -> list[dict]:
    from tutorforge.corpus.synthetic_text import TOPICS

    rng = random.Random(seed)
    facts = [(s, t, d) for s, v in TOPICS.items() for t, d in v]
    out = []
    for i in range(n):
        s, t, d = facts[rng.randrange(len(facts))]
        if i % 2:
            out.append(
                {
                    "item_id": f"q{i}",
                    "kind": "review",
                    "section_id": f"s{i}",
                    "example_id": f"e{i}",
                    "question": f"Why is it true that {t} {d}?",
                    "text": f"Why is it true that {t} {d}?",
                }
            )
        else:
            out.append(
                {
                    "item_id": f"s{i}",
                    "kind": "section_label",
                    "section_id": f"s{i}",
                    "example_id": None,
                    "text": f"Section {i % 97}\n{t.capitalize()} {d}. Remember that {t} {d}.",
                }
            )
    return out


def load(model_dir: str | None, tmp: Path) -> tuple[object, object, str]:
    import torch

    from tutorforge.training.models import load_causal_lm, load_tokenizer

    if model_dir and (Path(model_dir) / "config.json").exists():
        return load_causal_lm(model_dir, dtype=torch.float32).eval(), load_tokenizer(model_dir), model_dir
    from tutorforge.training.tiny import make_model, make_tokenizer

    tok = make_tokenizer()
    return make_model(tok, hidden=128, layers=4).eval(), tok, "tiny random Llama (4 x 128) + fixture chat tokenizer"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="artifacts/sft/merged")
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--baseline-items", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    import torch

    from tutorforge.selection.select import SelectConfig, choose, score_pool
    from tutorforge.selection.uncertainty import lm_embeddings

    torch.manual_seed(0)
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model, tok, name = load(a.model, Path(tmp))
    pool = pool_items(a.items)
    cfg = SelectConfig(
        infer_batch_size=a.batch_size,
        max_new_tokens=a.max_new_tokens,
        max_prompt_tokens=64,
        batch_size=50,
        n_clusters=10,
    )
    print(
        f"model: {name}; torch threads {torch.get_num_threads()}; pool {len(pool)} items "
        f"(half sections x {len(cfg.subjects)} subjects, half questions x {a.max_new_tokens} new tokens)"
    )

    base_cfg = SelectConfig(**{**cfg.__dict__, "infer_batch_size": 1})
    sub = pool[: a.baseline_items]
    t0 = time.perf_counter()
    score_pool(base_cfg, sub, model, tok)
    base = len(sub) / (time.perf_counter() - t0)
    print(f"one at a time : {base:8.1f} items/s  (scoring {len(sub)} items, batch size 1)")

    t0 = time.perf_counter()
    preds = score_pool(cfg, pool, model, tok)
    t_score = time.perf_counter() - t0
    emb = lm_embeddings(model, tok, [p["text"] for p in pool], a.batch_size, 64)
    sel = choose(cfg, pool, preds, emb, None)
    t_all = time.perf_counter() - t0
    batched = len(pool) / t_score
    print(
        f"batched ({a.batch_size:3d}) : {batched:8.1f} items/s  (scoring {len(pool)} items in {t_score:.1f}s; "
        f"+ embeddings, k-means and selection of {len(sel)}: {len(pool) / t_all:.1f} items/s end to end)"
    )
    print(
        f"ratio batched / one-at-a-time: {batched / base:.1f}x (scoring), {len(pool) / t_all / base:.1f}x (end to end)"
    )


if __name__ == "__main__":
    main()
