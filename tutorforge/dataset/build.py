"""Sections + synthetic + annotated examples -> deduplicated, decontaminated train/validation/test splits.

    pretrain, sft, report = build(DatasetConfig(), sections, synth, annotations, rejected_ids, subject_labels)
    python -m stages.dataset                                   # the stage (reads/writes artifacts/dataset)

Steps, all deterministic for a given seed:
 1. split BY SECTION: hash(seed, section_id) vs `split_ratios`; every example follows its section, so no section's
    text is on two sides; if a held-out split lacks an `eval_kinds` kind, the first train section (hash order)
    that has one is moved there;
 2. teachers' subject labels override the segmenter's subject; filters (short sections, malformed chat messages,
    bad multiple-choice meta, synthetic examples a teacher rejected or replaced in review);
 3. exact (normalised text) and near-duplicate (MinHash LSH) removal; held-out items and annotations win;
 4. decontamination: a training text/example sharing a word n-gram with any validation/test item is dropped;
 5. mixing: at most `synth_per_annotation` x #annotation examples synthetic examples in train (hash-sampled);
 6. chat format: messages (never pre-rendered), a system message from params added where missing.
`build` returns pretrain and sft records per split and a report (what was removed and why, with ids); `metrics`
flattens the report for `dvc metrics`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tutorforge.core.config import Fraction, NonNegFloat, NonNegInt, PositiveInt, config_dict, section
from tutorforge.core.ids import stable_id
from tutorforge.core.logs import get_logger
from tutorforge.text import dedup as td

log = get_logger(__name__)
SPLITS = ("train", "validation", "test")
ROLES = {"system", "user", "assistant", "tool"}


@section("dataset")
@dataclass
class DatasetConfig:
    sections: str = "artifacts/segment/sections.jsonl"
    """Section records (pretraining text; the unit of splitting)."""
    synth: str = "artifacts/synth/examples.jsonl"
    """Synthetic example records ('' = none)."""
    annotations: str = "artifacts/annotations/examples.jsonl"
    """Annotated example records ('' = none)."""
    annotations_report: str = "artifacts/annotations/report.json"
    """Annotation report: synthetic examples a teacher rejected in review are dropped ('' = ignore)."""
    labels: str = "artifacts/annotations/labels.jsonl"
    """Teachers' section labels: their subject overrides the segmenter's for the section and its examples ('' = off)."""
    output_dir: str = "artifacts/dataset"
    """Output directory (pretrain/, sft/, data_report.json, metrics.json)."""
    seed: int = 1337
    """Shared seed: section split hash and mixing sample."""
    split_ratios: dict[str, Fraction] = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    """Fraction of sections per split (must sum to 1)."""
    eval_kinds: list[str] = field(default_factory=lambda: ["qa", "mc", "socratic"])
    """Kinds each held-out split must contain (a train section holding one is moved there if needed)."""
    synth_per_annotation: NonNegFloat | None = 20.0
    """Mixing: at most this many synthetic train examples per annotation train example (null = no cap)."""
    min_synth_train: NonNegInt = 200
    """...but never cap the synthetic train examples below this many."""
    system_prompt: str = (
        "You are TutorForge, a patient school tutor. Answer from the textbook and explain step by step."
    )
    """System message added to examples that have none."""
    socratic_system_prompt: str = (
        "You are TutorForge in Socratic mode. Never state the answer: reply only with guiding questions that help "
        "the student work it out."
    )
    """System message of Socratic dialogues (kind socratic): the mode a tutor app switches on. Without it the same
    prompt would ask for a direct answer (qa) and for a withheld one (socratic), and the model cannot tell which."""
    min_section_chars: NonNegInt = 200
    """Sections shorter than this are not used as pretraining text (their examples stay)."""
    dedup_threshold: Fraction = 0.8
    """MinHash LSH: estimated Jaccard similarity of word shingles at which an item is a near-duplicate."""
    num_perm: PositiveInt = 128
    """MinHash permutations."""
    shingle_size: PositiveInt = 3
    """Words per shingle (3 suits short instruction examples: one changed word in 40 keeps Jaccard ~0.85)."""
    decontam_ngram: PositiveInt = 13
    """Word n-gram length for decontamination."""
    decontam_max_sections: NonNegInt = 3
    """Template detection: a word run found in more than this many sections (any split) is boilerplate..."""
    decontam_boilerplate_words: PositiveInt = 6
    """...where a run is this many words; n-grams containing a boilerplate run are not used for decontamination."""

    def __post_init__(self) -> None:
        if abs(sum(self.split_ratios.values()) - 1) > 1e-6 or set(self.split_ratios) - set(SPLITS):
            raise ValueError(f"dataset.split_ratios: must be over {SPLITS} and sum to 1, got {self.split_ratios}")


def split_of(section_id: str, seed: int, ratios: dict[str, float]) -> str:
    """Deterministic, per-section split: a 64-bit hash of (seed, section_id) against the cumulative ratios."""
    u = int(stable_id(seed, "split", section_id), 16) / 16**16
    acc = 0.0
    for s in SPLITS:
        acc += ratios.get(s, 0.0)
        if u < acc:
            return s
    return SPLITS[-1]


def example_text(ex: dict) -> str:
    """The comparable text of an example: all non-system message contents."""
    return td.concat(m.get("content") or "" for m in ex["messages"] if m.get("role") != "system")


def _check_example(ex: dict) -> str | None:
    msgs = ex.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "no messages"
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return "bad message (role/content)"
        if not m["content"].strip() and not m.get("tool_calls"):
            return f"empty {m.get('role')} message"
    if msgs[-1]["role"] != "assistant" or not any(m["role"] == "user" for m in msgs):
        return "must have a user turn and end with an assistant turn"
    if ex.get("kind") == "mc":
        meta = ex.get("meta") or {}
        opts, idx = meta.get("options"), meta.get("answer_index")
        if not isinstance(opts, list) or len(opts) < 2 or not isinstance(idx, int) or not 0 <= idx < len(opts):
            return "mc without valid meta.options/answer_index"
    return None


def build(
    cfg: DatasetConfig,
    sections: list[dict],
    synth: list[dict],
    ann: list[dict],
    rejected_ids: set[str],
    subject_labels: dict[str, str] | None = None,
) -> tuple[dict[str, list[dict]], dict[str, list[dict]], dict[str, Any]]:
    """The pure part: returns (pretrain by split, sft by split, report)."""
    subject_labels = subject_labels or {}
    sections = [{**s, "subject": subject_labels.get(s["section_id"], s.get("subject"))} for s in sections]
    synth = [{**e, "subject": subject_labels.get(e["section_id"], e.get("subject"))} for e in synth]
    sections = sorted(sections, key=lambda s: s["section_id"])
    removed: dict[str, list[dict]] = {
        k: [] for k in ("filter", "exact_dup", "near_dup", "decontamination", "mixing_cap", "review")
    }
    # 1. split by section (examples follow); guarantee held-out kinds
    split = {s["section_id"]: split_of(s["section_id"], cfg.seed, cfg.split_ratios) for s in sections}
    examples = sorted(ann, key=lambda e: e["example_id"]) + sorted(synth, key=lambda e: e["example_id"])
    unknown = sorted({e["section_id"] for e in examples if e["section_id"] not in split})
    for sid in unknown:
        split[sid] = split_of(sid, cfg.seed, cfg.split_ratios)
    kinds_by_section: dict[str, set[str]] = {}
    for e in examples:
        kinds_by_section.setdefault(e["section_id"], set()).add(e["kind"])
    moved = []
    for target in ("validation", "test"):
        if cfg.split_ratios.get(target, 0) <= 0:
            continue
        for kind in cfg.eval_kinds:
            if any(kind in kinds_by_section.get(s, ()) for s, sp in split.items() if sp == target):
                continue
            donors = sorted(
                (stable_id(cfg.seed, "split", s), s)
                for s, sp in split.items()
                if sp == "train" and kind in kinds_by_section.get(s, ())
            )
            if donors:
                split[donors[0][1]] = target
                moved.append({"section_id": donors[0][1], "to": target, "for_kind": kind})
    prio = {"test": 0, "validation": 1, "train": 2}
    # 2. filters
    pre = []
    for s in sections:
        if len(s["text"].strip()) < cfg.min_section_chars:
            removed["filter"].append({"id": s["section_id"], "set": "pretrain", "reason": "short section"})
        else:
            pre.append(
                {
                    "section_id": s["section_id"],
                    "doc_id": s["doc_id"],
                    "subject": s.get("subject"),
                    "text": s["text"],
                    "split": split[s["section_id"]],
                }
            )
    reviewed = {(e.get("meta") or {}).get("reviewed_example_id") for e in ann} - {None}
    sft = []
    seen_ids: set[str] = set()
    for e in examples:
        why = _check_example(e)
        if e["example_id"] in seen_ids:
            why = "duplicate example_id"
        if why:
            removed["filter"].append({"id": e["example_id"], "set": "sft", "reason": why})
            continue
        seen_ids.add(e["example_id"])
        if e.get("source") != "annotation" and e["example_id"] in rejected_ids | reviewed:
            removed["review"].append(
                {
                    "id": e["example_id"],
                    "reason": "rejected in review"
                    if e["example_id"] in rejected_ids
                    else "replaced by its reviewed version",
                }
            )
            continue
        sft.append({**e, "split": split[e["section_id"]]})
    # 3. exact + near dedup, held-out first, annotations before synthetic
    pre.sort(key=lambda r: (prio[r["split"]], r["section_id"]))
    sft.sort(key=lambda r: (prio[r["split"]], r.get("source") != "annotation", r["example_id"]))
    for name, recs, key, text in (
        ("pretrain", pre, "section_id", lambda r: r["text"]),
        ("sft", sft, "example_id", example_text),
    ):
        items = [(r[key], text(r)) for r in recs]
        ex = td.exact_dedup(items)
        near = td.minhash_dedup(
            [it for it in items if it[0] not in ex], cfg.dedup_threshold, cfg.num_perm, cfg.shingle_size, seed=cfg.seed
        )
        removed["exact_dup"] += [{"id": i, "set": name, "duplicate_of": k} for i, k in ex.items()]
        removed["near_dup"] += [{"id": i, "set": name, "duplicate_of": k, "jaccard": j} for i, (k, j) in near.items()]
        recs[:] = [r for r in recs if r[key] not in ex and r[key] not in near]
        log.info("%s: %d exact and %d near duplicate(s) removed, %d left", name, len(ex), len(near), len(recs))
    # 4. decontamination against every held-out item
    index = td.NgramIndex(cfg.decontam_ngram, cfg.decontam_max_sections, cfg.decontam_boilerplate_words)
    for r in pre:
        if r["split"] != "train":
            index.add(r["section_id"], r["section_id"], r["text"])
    for r in sft:
        if r["split"] != "train":
            index.add(r["example_id"], r["section_id"], example_text(r))
    train_items = [(("pretrain", r["section_id"]), r["section_id"], r["text"]) for r in pre if r["split"] == "train"]
    train_items += [(("sft", r["example_id"]), r["section_id"], example_text(r)) for r in sft if r["split"] == "train"]
    dirty = index.decontaminate(train_items)
    removed["decontamination"] += [
        {"id": i, "set": name, "eval_item": e, "ngram": g} for (name, i), (e, g) in dirty.items()
    ]
    pre[:] = [r for r in pre if ("pretrain", r["section_id"]) not in dirty]
    sft[:] = [r for r in sft if ("sft", r["example_id"]) not in dirty]
    # 5. mixing cap on synthetic train examples
    n_ann = sum(r["split"] == "train" and r.get("source") == "annotation" for r in sft)
    syn_train = [r for r in sft if r["split"] == "train" and r.get("source") != "annotation"]
    cap = None if cfg.synth_per_annotation is None else max(cfg.min_synth_train, int(cfg.synth_per_annotation * n_ann))
    if cap is not None and len(syn_train) > cap:
        ranked = sorted(syn_train, key=lambda r: stable_id(cfg.seed, "mix", r["example_id"]))
        over = {r["example_id"] for r in ranked[cap:]}
        removed["mixing_cap"] += [{"id": i, "set": "sft"} for i in sorted(over)]
        sft = [r for r in sft if r["example_id"] not in over]
    # 6. chat format
    for r in sft:
        prompt = cfg.socratic_system_prompt if r.get("kind") == "socratic" else cfg.system_prompt
        if r["messages"][0]["role"] != "system" and prompt:
            r["messages"] = [{"role": "system", "content": prompt}, *r["messages"]]
    pre_out = {
        s: sorted(
            ({k: r[k] for k in ("section_id", "doc_id", "subject", "text")} for r in pre if r["split"] == s),
            key=lambda r: r["section_id"],
        )
        for s in SPLITS
    }
    sft_out = {s: sorted((r for r in sft if r["split"] == s), key=lambda r: r["example_id"]) for s in SPLITS}
    for v in removed.values():
        v.sort(key=lambda d: (d.get("set", ""), d["id"]))
    report = _report(cfg, sections, examples, split, moved, unknown, pre_out, sft_out, removed, index)
    report["subject_overrides_from_labels"] = sum(s["section_id"] in subject_labels for s in sections)
    return pre_out, sft_out, report


def _report(cfg, sections, examples, split, moved, unknown, pre_out, sft_out, removed, index) -> dict[str, Any]:
    def cnt(recs, key):
        return dict(sorted(Counter(str(r.get(key)) for r in recs).items()))

    sft_all = [r for s in SPLITS for r in sft_out[s]]
    rem_counts = {
        f"{k}_{st}": sum(d.get("set", "sft") == st for d in v) for k, v in removed.items() for st in ("pretrain", "sft")
    }
    heldout = {s: cnt(sft_out[s], "kind") for s in ("validation", "test")}
    missing = {s: [k for k in cfg.eval_kinds if k not in heldout[s]] for s in heldout if cfg.split_ratios.get(s)}
    if any(missing.values()):
        log.warning("held-out splits lack eval kinds: %s", missing)
    return {
        "config": config_dict(cfg),
        "inputs": {"sections": len(sections), "examples": len(examples), "examples_by_source": cnt(examples, "source")},
        "sections_per_split": dict(sorted(Counter(split[s["section_id"]] for s in sections).items())),
        "sections_moved_for_eval_kinds": moved,
        "examples_with_unknown_section": unknown,
        "heldout_kinds_missing": missing,
        "pretrain": {
            s: {
                "records": len(pre_out[s]),
                "by_subject": cnt(pre_out[s], "subject"),
                "chars": sum(len(r["text"]) for r in pre_out[s]),
            }
            for s in SPLITS
        },
        "sft": {
            s: {
                "records": len(sft_out[s]),
                "by_subject": cnt(sft_out[s], "subject"),
                "by_source": cnt(sft_out[s], "source"),
                "by_kind": cnt(sft_out[s], "kind"),
            }
            for s in SPLITS
        },
        "sft_by_kind": cnt(sft_all, "kind"),
        "sft_by_source": cnt(sft_all, "source"),
        "removed_counts": rem_counts,
        "removed": removed,
        "decontamination_boilerplate_ngrams": index.n_boilerplate,
    }


def metrics(report: dict[str, Any]) -> dict[str, float]:
    """Flat numbers for `dvc metrics show/diff`."""
    m: dict[str, float] = {f"pretrain_{s}": v["records"] for s, v in report["pretrain"].items()}
    m |= {f"sft_{s}": v["records"] for s, v in report["sft"].items()}
    m |= {f"sft_{s}_{k}": n for s, v in report["sft"].items() if s != "train" for k, n in v["by_kind"].items()}
    m |= {f"sft_source_{k.replace(':', '_')}": n for k, n in report["sft_by_source"].items()}
    m |= {f"removed_{k}": n for k, n in report["removed_counts"].items()}
    return dict(sorted(m.items()))
