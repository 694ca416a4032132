"""What the evaluate stage writes: DVC plot rows, the markdown report, and all outputs replaced as a whole.

artifacts/evaluate/metrics.json          deterministic metrics (DVC metrics): benchmark {name, version, digest},
                                         <model>.{bench,mmlu,subject_cls,heldout}.<metric>, delta, per_subject, counts
artifacts/evaluate/perf.json             per model: latency p50/p95 per reply, tokens/s, peak RSS (wall clock: varies)
artifacts/evaluate/plots/loss_curves.json       rows {stage, step, global_step, loss}
artifacts/evaluate/plots/eval_loss_curves.json  rows {stage, step, global_step, eval_loss}
artifacts/evaluate/plots/per_subject.json  rows {subject, model, label, <benchmark metric>: value, ...}
artifacts/evaluate/report.md             metric table (baseline beside candidate), speed, per subject, side-by-side answers
artifacts/evaluate/samples.jsonl         rows {id, kind, subject, prompt, reference, answers: {model: reply}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs

log = get_logger(__name__)

OUTPUTS = ("metrics.json", "perf.json", "plots", "samples.jsonl", "report.md")

GROUPS = {  # metrics.json group -> metric order in the report
    "bench": ["answer_loss", "socratic_reply_loss", "rouge_l", "bleu", "mc_accuracy", "socratic_rate", "question_rate",
              "leak_rate", "tool_call_accuracy", "tool_name_accuracy", "tool_schema_valid_rate", "model_id_accuracy"],
    "mmlu": ["biology", "chemistry", "physics", "mathematics", "overall"],
    "subject_cls": ["top1", "top3"],
    "heldout": ["perplexity", "answer_loss", "mc_accuracy", "rouge_l", "exact_match", "fk_grade", "socratic_rate",
                "question_rate", "answer_leak_rate", "tool_call_validity", "tool_name_match", "response_tokens"],
}  # fmt: skip
PER_SUBJECT_COLUMNS = ["answer_loss", "rouge_l", "mc_accuracy", "socratic_rate", "tool_call_accuracy"]
LOWER_IS_BETTER = {"answer_loss", "socratic_reply_loss", "leak_rate", "perplexity", "answer_leak_rate"}
KIND_ORDER = ["short_answer", "mc", "socratic", "tools", "grounded"]


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


def per_subject_rows(metrics: dict[str, Any], models: list[str], x: str = "answer_loss") -> list[dict[str, Any]]:
    """One bar row per (subject, model) (y = label, x = a benchmark metric in the DVC plot).

    DVC needs every row to hold the same fields: rows without `x` are dropped and only metrics present in every
    remaining row are kept.
    """
    rows = [
        {"subject": subj, "model": model, "label": f"{subj} / {model}", **vals[model]}
        for subj, vals in sorted(metrics.get("per_subject", {}).items())
        for model in models
        if model in vals
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


def render_report(cfg: Any, metrics: dict[str, Any], perf: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """report.md: the metric table (every model, baseline beside candidate, delta), speed and memory, per subject,
    and `report_samples` items of every benchmark kind with all models' answers side by side."""
    models = [m for m in cfg.active() if m in metrics]
    base, cand, bench = cfg.baseline, cfg.candidate, metrics.get("benchmark", {})
    order = list(dict.fromkeys([base, *[m for m in models if m not in (base, cand)], cand]))  # base == cand: once
    lines = [
        f"# Evaluation: {' vs '.join(order)} on benchmark {bench.get('name', '?')}-{bench.get('version', '?')}",
        "",
        f"Benchmark digest `{bench.get('digest', '?')}` (the promotion gate only compares metrics scored on the same "
        f"digest). Delta = {cand} - {base}. Lower is better for " + ", ".join(sorted(LOWER_IS_BETTER)) + "; higher "
        "for the rest (bleu is 0-100; fk_grade is a reading grade).",
        "",
        "| metric | " + " | ".join(order) + f" | delta ({cand} - {base}) |",
        "|---|" + "---:|" * (len(order) + 1),
    ]
    for group, keys in GROUPS.items():
        for k in keys:
            vals = [metrics[m].get(group, {}).get(k) for m in order]
            if any(v is not None for v in vals):
                d = metrics.get("delta", {}).get(group, {}).get(k)
                lines.append(f"| {group}.{k} | " + " | ".join(map(_fmt, vals)) + f" | {_fmt(d)} |")
    for key in ("bench_answer_loss_reduction", "answer_loss_reduction"):
        if key in metrics:
            lines.append(f"| {key} (1 - {cand}/{base}) |" + " |" * len(order) + f" {_fmt(metrics[key])} |")
    paired = metrics.get("paired", {})
    if paired:
        lines += [
            "",
            f"Item by item ({cand} vs {base}, the same benchmark items; p: exact McNemar test, the chance of a "
            "split at least this uneven if the two models were equally good):",
            "",
            f"| metric | items | both right | only {base} | only {cand} | p |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [f"| {m} | {v['items']} | {v['both']} | {v['baseline_only']} | {v['candidate_only']} | "
                  f"{_fmt(v['p_value'])} |" for m, v in paired.items()]  # fmt: skip
    lines += ["", "Counts: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.get("counts", {}).items()))]
    lines += ["", *[f"Note: {n}" for n in metrics.get("notes", [])]] if metrics.get("notes") else []
    lines += [
        "",
        "## Speed and memory (wall clock, this machine; perf.json)",
        "",
        "| model | p50 latency per reply (s) | p95 (s) | tokens/s | peak RSS (MiB) | eval s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m} | {_fmt(p.get('latency_p50_s'))} | {_fmt(p.get('latency_p95_s'))} | {_fmt(p.get('tokens_per_s'))} "
        f"| {_fmt(p.get('peak_rss_mib'))} | {_fmt(p.get('eval_seconds'))} |"
        for m, p in ((m, perf[m]) for m in order if m in perf)
    ]
    lines += ["", f"## Per subject (benchmark; {' / '.join(order)})", "",
              "| subject | " + " | ".join(PER_SUBJECT_COLUMNS) + " |", "|---|" + "---:|" * len(PER_SUBJECT_COLUMNS)]  # fmt: skip
    for subj, vals in sorted(metrics.get("per_subject", {}).items()):
        cells = [" / ".join(_fmt(vals.get(m, {}).get(k)) for m in order) for k in PER_SUBJECT_COLUMNS]
        lines.append(f"| {subj} | " + " | ".join(cells) + " |")
    lines += ["", "## Side-by-side answers (greedy; MC: the option ranked first)"]
    for kind in KIND_ORDER:
        rows = [s for s in samples if s["kind"] == kind][: cfg.report_samples]
        if not rows:
            continue
        lines += ["", f"### {kind}", "", "| id | prompt | reference | " + " | ".join(order) + " |",
                  "|---|---|---|" + "---|" * len(order)]  # fmt: skip
        lines += [
            f"| {s['id']} | {_cell(s['prompt'])} | {_cell(s['reference'])} | "
            + " | ".join(_cell(s["answers"].get(m, "")) for m in order)
            + " |"
            for s in rows
        ]
    return "\n".join(lines) + "\n"


def write_outputs(cfg: Any, result: dict[str, Any]) -> None:
    """Write every output of cfg.output_dir; they replace the previous ones as a whole (core/outputs.py), and
    anything else there (DVC's .gitignore) is left alone."""
    report = render_report(cfg, result["metrics"], result["perf"], result["samples"])
    with replace_outputs(cfg.output_dir, OUTPUTS) as outs:
        write_json(outs / "metrics.json", result["metrics"])
        write_json(outs / "perf.json", result["perf"])
        for name, rows in result["plots"].items():
            write_json(outs / "plots" / f"{name}.json", rows)
        write_jsonl(outs / "samples.jsonl", result["samples"])
        (outs / "report.md").write_text(report, encoding="utf-8")
