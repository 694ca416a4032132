"""Label Studio task payloads for TutorForge: sections, synthetic questions and selections -> `{data, predictions}`.

    from tutorforge.labelstudio.tasks import build_tasks, selection_tasks
    tasks = build_tasks("section_label", sections, synth)      # one project kind, model outputs as predictions
    per_kind = selection_tasks(selection, sections, synth, "select-round1")   # {"section_label": [...], "review": [...]}

`client.push_tasks` imports them idempotently by `data.external_id`. A section_label task (text shortened):

    {"data": {"external_id": "section_label:3d0cb03013752a08", "kind": "section_label",
              "section_id": "958d45e8f8a253bf", "doc_id": "doc0", "file": "book0.pdf",
              "heading": "Chapter 1 > Section 1", "subject": "biology", "text": "zorengu quiminerlo ..."},
     "predictions": [{"model_version": "segment", "score": 1.0,
                      "result": [{"from_name": "subject", "to_name": "text", "type": "choices",
                                  "value": {"choices": ["biology"]}}]}]}

A review task adds question / model_answer / example_id to `data` (external_id "review:<id>"); a selection task
also carries data.selection_round / selection_score / selection_reasons, its prediction scored by model confidence.
"""

from __future__ import annotations

from tutorforge.core.logs import get_logger
from tutorforge.labelstudio.schema import section_task_data

log = get_logger(__name__)


def choices_result(from_name: str, to_name: str, value: str) -> list[dict]:
    return [{"from_name": from_name, "to_name": to_name, "type": "choices", "value": {"choices": [value]}}]


def textarea_result(pairs: dict[str, str], to_name: str = "text") -> list[dict]:
    return [
        {"from_name": k, "to_name": to_name, "type": "textarea", "value": {"text": [v]}} for k, v in pairs.items() if v
    ]


def prediction(result: list[dict], model_version: str, score: float | None) -> dict:
    return {
        "model_version": model_version,
        "score": None if score is None else round(float(score), 6),
        "result": result,
    }


def question_and_answer(example: dict) -> tuple[str, str]:
    """First user turn and first assistant turn of an example record."""
    msgs = example.get("messages") or []
    q = next((m["content"] for m in msgs if m["role"] == "user"), "")
    a = next((m["content"] for m in msgs if m["role"] == "assistant"), "")
    return q, a


def build_tasks(
    kind: str, sections: list[dict], synth: list[dict], question_kinds: tuple[str, ...] = ("qa",), limit: int = 0
) -> list[dict]:
    """Tasks for one project kind, with model outputs as predictions.

    section_label: every section, the segmenter's subject as a prediction (score = its subject_confidence);
    qa: every section, pre-filled with the section's first synthetic question/answer (model_version = its source);
    socratic: every section, no prediction; review: one task per synthetic question (model_answer = the synthetic
    answer). Deterministic order (section order, then example id).
    """
    by_id = {s["section_id"]: s for s in sections}
    tasks: list[dict] = []
    if kind == "review":
        for e in sorted(synth, key=lambda e: (e.get("section_id") or "", e["example_id"])):
            q, a = question_and_answer(e)
            if e.get("kind") in question_kinds and q and a and e.get("section_id") in by_id:
                data = section_task_data(
                    "review",
                    by_id[e["section_id"]],
                    e["example_id"],
                    question=q,
                    model_answer=a,
                    example_id=e["example_id"],
                )
                tasks.append({"data": data, "predictions": []})
    else:
        first_qa: dict[str | None, dict] = {}  # a synthetic example without section_id is keyed None (never looked up)
        for e in sorted(synth, key=lambda e: e["example_id"]):
            if e.get("kind") == "qa":
                first_qa.setdefault(e.get("section_id"), e)
        for s in sections:
            preds: list[dict] = []
            if kind == "section_label" and s.get("subject"):
                preds = [
                    prediction(choices_result("subject", "text", s["subject"]), "segment", s.get("subject_confidence"))
                ]
            elif kind == "qa" and s["section_id"] in first_qa:
                e = first_qa[s["section_id"]]
                q, a = question_and_answer(e)
                preds = [
                    prediction(textarea_result({"question": q, "answer": a}), str(e.get("source") or "synth"), None)
                ]
            tasks.append({"data": section_task_data(kind, s), "predictions": preds})
    return tasks[:limit] if limit else tasks


def selection_tasks(
    selection: list[dict], sections: list[dict], synth: list[dict], model_version: str
) -> dict[str, list[dict]]:
    """Tasks per project kind for a selection (tutorforge/selection/select.py): the prediction's score is the model's confidence
    (sort by it in the Data Manager), data.selection_round / selection_score / selection_reasons tag the round."""
    by_id = {s["section_id"]: s for s in sections}
    examples = {e["example_id"]: e for e in synth}
    out: dict[str, list[dict]] = {"section_label": [], "review": []}
    for r in selection:
        p, s = r["prediction"], by_id.get(r["section_id"])
        if s is None:
            log.warning("selection item %s: section %s no longer exists, skipped", r["item_id"], r["section_id"])
            continue
        tag = {
            "selection_round": r["round"],
            "selection_score": r["score"],
            "selection_reasons": "; ".join(r["reasons"]),
        }
        if r["kind"] == "section_label":
            data = section_task_data("section_label", s, **tag)
            preds = [prediction(choices_result("subject", "text", p["subject"]), model_version, p["confidence"])]
        else:
            e = examples.get(r["example_id"])
            if e is None:
                log.warning("selection item %s: example %s no longer exists, skipped", r["item_id"], r["example_id"])
                continue
            q, _ = question_and_answer(e)
            data = section_task_data(
                "review",
                s,
                r["example_id"],
                question=q,
                model_answer=p["answer"] or "(empty)",
                example_id=r["example_id"],
                **tag,
            )
            preds = [prediction(choices_result("verdict", "model_answer", "accept"), model_version, p["confidence"])]
        assert data["external_id"] == r["item_id"], (data["external_id"], r["item_id"])
        out[r["kind"]].append({"data": data, "predictions": preds})
    return out
