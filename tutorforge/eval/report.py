"""What the evaluate stage writes: DVC plot rows, the markdown report, and all outputs replaced as a whole.

artifacts/evaluate/metrics.json          deterministic metrics (DVC metrics)
artifacts/evaluate/perf.json             latency p50/p95 and tokens/s (wall clock: varies run to run)
artifacts/evaluate/plots/loss_curves.json       rows {stage, step, global_step, loss}
artifacts/evaluate/plots/eval_loss_curves.json  rows {stage, step, global_step, eval_loss}
artifacts/evaluate/plots/per_subject.json  rows {subject, model, label, <metric>: value, ...}
artifacts/evaluate/report.md, samples.jsonl
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from tutorforge.core.io import read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs

log = get_logger(__name__)

OUTPUTS = ("metrics.json", "perf.json", "plots", "samples.jsonl", "report.md")

METRIC_ORDER = [
    "perplexity",
    "answer_loss",
    "mc_accuracy",
    "rouge_l",
    "exact_match",
    "fk_grade",
    "socratic_rate",
    "question_rate",
    "answer_leak_rate",
    "tool_call_validity",
    "tool_name_match",
    "response_tokens",
]
PER_SUBJECT_COLUMNS = [
    "perplexity",
    "answer_loss",
    "mc_accuracy",
    "rouge_l",
    "exact_match",
    "socratic_rate",
    "tool_call_validity",
]
LOWER_IS_BETTER = {"perplexity", "answer_loss", "answer_leak_rate"}


def loss_curve_rows(pretrain_log: str | Path, sft_log: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Both training logs as one curve: sft steps continue after the last pretrain step (global_step).

    Returns {"loss_curves": rows {stage, step, global_step, loss}, "eval_loss_curves": rows {..., eval_loss}}: two
    files because DVC plots need every row of a file to carry the plotted field.
    """
    out: dict[str, list[dict[str, Any]]] = {"loss_curves": [], "eval_loss_curves": []}
    offset = 0
    for stage, path in (("pretrain", Path(pretrain_log)), ("sft", Path(sft_log))):
        if not path.exists():
            log.warning("no training log at %s: the loss-curve plot leaves %s out", path, stage)
            continue
        last = 0
        for rec in read_jsonl(path):
            if rec.get("step") is None:
                continue
            row = {"stage": stage, "step": int(rec["step"]), "global_step": offset + int(rec["step"])}
            for key, name in (("loss", "loss_curves"), ("eval_loss", "eval_loss_curves")):
                if isinstance(rec.get(key), int | float) and not isinstance(rec[key], bool):
                    out[name].append(row | {key: float(rec[key])})
            last = max(last, int(rec["step"]))
        offset += last
    return out


def per_subject_rows(metrics: dict[str, Any], x: str = "answer_loss") -> list[dict[str, Any]]:
    """One bar row per (subject, model) (y = label, x = a metric in the DVC plot).

    DVC needs every row to hold the same fields: rows without `x` are dropped and only metrics present in every
    remaining row are kept.
    """
    rows = [
        {"subject": subj, "model": model, "label": f"{subj} / {model}", **vals[model]}
        for subj, vals in sorted(metrics.get("per_subject", {}).items())
        for model in ("base", "sft")
    ]
    rows = [r for r in rows if x in r]
    common = set.intersection(*(set(r) for r in rows)) if rows else set()
    return [{k: v for k, v in r.items() if k in common} for r in rows]


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else ("–" if v is None else str(v))


def _cell(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "∅"


def render_report(
    metrics: dict[str, Any], perf: dict[str, Any], samples: list[dict[str, Any]], n_samples: int, split: str
) -> str:
    base, sft, delta = metrics["base"], metrics["sft"], metrics["delta"]
    keys = [k for k in METRIC_ORDER if k in base or k in sft]
    lines = [
        f"# Evaluation: base vs SFT ({split} split)",
        "",
        "Lower is better for " + ", ".join(sorted(LOWER_IS_BETTER)) + "; higher for the rest "
        "(fk_grade: reading grade, compare with the reference answers' grade).",
        "",
        "| metric | base | sft | delta (sft - base) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {k} | {_fmt(base.get(k))} | {_fmt(sft.get(k))} | {_fmt(delta.get(k))} |" for k in keys]
    if "answer_loss_reduction" in metrics:
        lines.append(f"| answer_loss_reduction (1 - sft/base) | | {_fmt(metrics['answer_loss_reduction'])} | |")
    if metrics.get("reference", {}).get("fk_grade") is not None:
        lines.append(f"| fk_grade of reference answers | | {_fmt(metrics['reference']['fk_grade'])} | |")
    lines += [
        "",
        "Counts: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.get("counts", {}).items())),
        "",
        "## Speed (wall clock, this machine)",
        "",
        "| model | p50 latency (s) | p95 latency (s) | tokens/s | eval s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m} | {_fmt(p.get('latency_p50_s'))} | {_fmt(p.get('latency_p95_s'))} | {_fmt(p.get('tokens_per_s'))} "
        f"| {_fmt(p.get('eval_seconds'))} |"
        for m, p in perf.items()
    ]
    cols = [k for k in PER_SUBJECT_COLUMNS if k in keys]
    lines += [
        "",
        "## Per subject (base → sft)",
        "",
        "| subject | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for subj, vals in sorted(metrics.get("per_subject", {}).items()):
        cells = [f"{_fmt(vals['base'].get(k))} → {_fmt(vals['sft'].get(k))}" for k in cols]
        lines.append(f"| {subj} | " + " | ".join(cells) + " |")
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        groups.setdefault(s["group"], []).append(s)
    samples = [s for row in itertools.zip_longest(*groups.values()) for s in row if s]  # mix the kinds
    lines += [
        "",
        "## Sample answers (greedy)",
        "",
        "| kind | subject | prompt | reference | base | sft |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s['kind']} | {s['subject']} | {_cell(s['prompt'])} | {_cell(s['reference'])} | "
        f"{_cell(s['base_answer'])} | {_cell(s['sft_answer'])} |"
        for s in samples[:n_samples]
    ]
    return "\n".join(lines) + "\n"


def write_outputs(cfg: Any, result: dict[str, Any]) -> None:
    """Write every output of cfg.output_dir; they replace the previous ones as a whole (core/outputs.py), and
    anything else there (DVC's .gitignore) is left alone."""
    report = render_report(result["metrics"], result["perf"], result["samples"], cfg.report_samples, cfg.split)
    with replace_outputs(cfg.output_dir, OUTPUTS) as outs:
        write_json(outs / "metrics.json", result["metrics"])
        write_json(outs / "perf.json", result["perf"])
        for name, rows in result["plots"].items():
            write_json(outs / "plots" / f"{name}.json", rows)
        write_jsonl(outs / "samples.jsonl", result["samples"])
        (outs / "report.md").write_text(report, encoding="utf-8")
