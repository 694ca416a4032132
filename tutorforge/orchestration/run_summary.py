"""What a flow run reports: flattened metrics, metric deltas between runs, annotation counts, the retrain summary.

flatten_metrics({"sft": {"answer_loss": 1.23}, "counts": {"answer_items": 31}})
# [{'metric': 'sft.answer_loss', 'value': 1.23}, {'metric': 'counts.answer_items', 'value': 31}]
metric_deltas({"sft.answer_loss": 1.5}, {"sft.answer_loss": 1.23})
# [{'metric': 'sft.answer_loss', 'before': 1.5, 'after': 1.23, 'delta': -0.27}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def flatten_metrics(d: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """metrics.json -> [{metric: "sft.answer_loss", value: 1.23}, ...] (numbers, strings and bools kept)."""
    rows: list[dict[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += flatten_metrics(v, f"{prefix}{k}.")
        elif isinstance(v, str | int | float | bool) or v is None:
            rows.append({"metric": f"{prefix}{k}", "value": v})
    return rows


def metric_values(path: Path) -> dict[str, float]:
    """The numeric metrics of a metrics.json, flattened ({} when the file does not exist yet)."""
    if not path.exists():
        return {}
    rows = flatten_metrics(json.loads(path.read_text(encoding="utf-8")))
    return {
        r["metric"]: r["value"]
        for r in rows
        if isinstance(r["value"], int | float) and not isinstance(r["value"], bool)
    }


def metric_deltas(before: dict[str, float], after: dict[str, float]) -> list[dict[str, Any]]:
    """One row per metric after the run: its value before (None if new), after, and the change."""
    return [
        {
            "metric": k,
            "before": before.get(k),
            "after": v,
            "delta": None if k not in before else round(v - before[k], 6),
        }
        for k, v in sorted(after.items())
    ]


def annotation_count(repo: Path, glob: str = "data/annotations/*.json") -> int:
    """Annotations over all export snapshots (Label Studio JSON: tasks with `annotations` lists)."""
    n = 0
    for p in sorted(repo.glob(glob)):
        try:
            tasks = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        n += sum(len(t.get("annotations") or []) for t in tasks if isinstance(t, dict))
    return n


def summary_markdown(pulled: dict, stages: dict[str, str], deltas: list[dict], promo: dict, pushed: dict) -> str:
    """The retrain run summary: annotations, stages re-run, version registered/promoted, push, changed metrics."""
    ran = [s for s, st in stages.items() if st == "ran"]
    lines = [
        "# Retrain run summary",
        "",
        f"- **Annotations**: {pulled['annotations']} total, {pulled['new']} new"
        + (f" (pull skipped: {pulled['skipped']})" if pulled.get("skipped") else ""),
        f"- **Stages re-run**: {', '.join(ran) or 'none (all cached)'}",
        f"- **Registered**: {promo.get('version', 'n/a')}",
        f"- **Promoted to production**: {'yes' if promo.get('promoted') else 'no'} ({promo.get('reason', '')})",
        "- **Selection pushed to Label Studio**: "
        + ("skipped: " + pushed["skipped"] if pushed.get("skipped") else "yes"),
        "",
        "| metric | before | after | delta |",
        "|---|---|---|---|",
    ]
    lines += [f"| {d['metric']} | {d['before']} | {d['after']} | {d['delta']} |" for d in deltas if d["delta"] != 0]
    return "\n".join(lines) + "\n"
