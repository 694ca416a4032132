"""Build Label Studio JSON exports (the exact shape Label Studio writes) from plain payloads.

Used by `scripts/make_seed_annotations.py` (the seed snapshot in data/annotations/) and by tests; the inverse of
`tutorforge.labelstudio.export.payload`. Field names follow Label Studio's export serializer (see
label_studio_sdk.types.Annotation / LseTask / Prediction): tasks carry `id, data, annotations, predictions, drafts,
meta, created_at, updated_at, inner_id, total_annotations, cancelled_annotations, total_predictions, project, ...`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.labelstudio.schema import SOCRATIC_TURNS

EPOCH = datetime(2026, 10, 1, 8, 0, 0, tzinfo=UTC)


def ts(minutes: float) -> str:
    """A Label Studio-style timestamp `minutes` after a fixed epoch (deterministic)."""
    return (EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(from_name: str, to_name: str, rtype: str, value: dict, seed: str, origin: str = "manual") -> dict:
    return {
        "value": value,
        "id": stable_id(seed, from_name, length=10),
        "from_name": from_name,
        "to_name": to_name,
        "type": rtype,
        "origin": origin,
    }


def results(kind: str, p: dict[str, Any], seed: str, origin: str = "manual") -> list[dict]:
    """Result items for a payload of `kind` (section_label, qa, socratic, review)."""
    out: list[dict] = []

    def ta(name: str, text: str, to: str = "text") -> None:
        if text:
            out.append(_item(name, to, "textarea", {"text": [text]}, seed, origin))

    if kind == "section_label":
        for name in ("subject", "difficulty"):
            if p.get(name):
                out.append(_item(name, "text", "choices", {"choices": [p[name]]}, seed, origin))
    elif kind == "qa":
        ta("question", p.get("question", ""))
        ta("answer", p.get("answer", ""))
        if p.get("distractors"):
            out.append(_item("distractors", "text", "textarea", {"text": list(p["distractors"])}, seed, origin))
    elif kind == "socratic":
        ta("student_opening", p.get("student_opening", ""))
        ta("withheld_answer", p.get("withheld_answer", ""))
        for i, (hint, reply) in enumerate(p.get("turns", [])[:SOCRATIC_TURNS], 1):
            ta(f"hint_{i}", hint)
            if i < SOCRATIC_TURNS:
                ta(f"student_{i}", reply)
    elif kind == "review":
        if p.get("verdict"):
            out.append(_item("verdict", "model_answer", "choices", {"choices": [p["verdict"]]}, seed, origin))
        ta("edited_answer", p.get("edited_answer", ""), to="model_answer")
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return out


def annotation(
    ann_id: int,
    task_id: int,
    annotator: int,
    result: list[dict],
    minutes: float,
    lead_time: float,
    project: int,
    cancelled: bool = False,
    ground_truth: bool = False,
) -> dict:
    """One annotation object as Label Studio exports it."""
    return {
        "id": ann_id,
        "completed_by": annotator,
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": ground_truth,
        "created_at": ts(minutes),
        "updated_at": ts(minutes + lead_time / 60),
        "draft_created_at": None,
        "lead_time": lead_time,
        "prediction": {},
        "result_count": len(result),
        "unique_id": stable_id("annotation", project, task_id, ann_id, length=32),
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": task_id,
        "project": project,
        "updated_by": annotator,
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
    }


def prediction(
    pred_id: int,
    task_id: int,
    result: list[dict],
    minutes: float,
    project: int,
    model_version: str = "synth-deterministic",
    score: float | None = None,
) -> dict:
    return {
        "id": pred_id,
        "result": result,
        "model_version": model_version,
        "created_ago": "0 minutes",
        "score": score,
        "cluster": None,
        "neighbors": None,
        "mislabeling": 0.0,
        "created_at": ts(minutes),
        "updated_at": ts(minutes),
        "model": None,
        "model_run": None,
        "task": task_id,
        "project": project,
    }


def task(
    task_id: int,
    inner_id: int,
    data: dict,
    annotations: list[dict],
    project: int,
    minutes: float,
    predictions: list[dict] | None = None,
) -> dict:
    """One task object as Label Studio's JSON export writes it."""
    predictions = predictions or []
    last = max(
        [minutes] + [(datetime.fromisoformat(a["updated_at"]) - EPOCH).total_seconds() / 60 for a in annotations]
    )
    return {
        "id": task_id,
        "annotations": annotations,
        "file_upload": None,
        "drafts": [],
        "predictions": predictions,
        "data": data,
        "meta": {},
        "created_at": ts(minutes),
        "updated_at": ts(last),
        "inner_id": inner_id,
        "total_annotations": sum(not a["was_cancelled"] for a in annotations),
        "cancelled_annotations": sum(a["was_cancelled"] for a in annotations),
        "total_predictions": len(predictions),
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": project,
        "updated_by": annotations[-1]["completed_by"] if annotations else None,
        "comment_authors": [],
    }
