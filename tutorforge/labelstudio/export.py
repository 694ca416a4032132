"""Interpret validated Label Studio export snapshots: answers, conflict resolution, example records.

Parsing and validation live in tutorforge/labelstudio/snapshot.py (`load_snapshot` / `parse_snapshot`, re-exported
here); `resolve` picks one annotation among several (ground truth first, then `latest` or `majority` with ties ->
latest); `to_examples` turns the winner into example records per the project's contract
(`tutorforge/labelstudio/annotations.py` documents the outputs).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.core.records import mc_prompt, mc_reply
from tutorforge.labelstudio.schema import DIFFICULTIES, SOCRATIC_TURNS, VERDICTS
from tutorforge.labelstudio.snapshot import Annotation, ExportError, Snapshot, Task, load_snapshot, parse_snapshot

__all__ = [
    "DIFFICULTIES",
    "VERDICTS",
    "ExportError",
    "Annotation",
    "Task",
    "Snapshot",
    "load_snapshot",
    "parse_snapshot",
    "resolve",
    "answer_key",
    "payload",
    "to_examples",
    "provenance",
]


def _values(a: Annotation, name: str) -> list[str]:
    out: list[str] = []
    for r in a.result:
        if r["from_name"] == name:
            v = r["value"]
            out += v.get("choices") or v.get("text") or []
    return out


def _text(a: Annotation, name: str) -> str:
    return "\n".join(s.strip() for s in _values(a, name) if s.strip())


def payload(kind: str, a: Annotation) -> dict[str, Any]:
    """The annotation's answer as a plain dict, per project kind."""
    if kind == "section_label":
        return {"subject": (_values(a, "subject") or [None])[0], "difficulty": (_values(a, "difficulty") or [None])[0]}
    if kind == "qa":
        distractors = [x.strip() for s in _values(a, "distractors") for x in s.splitlines() if x.strip()]
        return {"question": _text(a, "question"), "answer": _text(a, "answer"), "distractors": distractors}
    if kind == "socratic":
        turns = [(f"hint_{i}", f"student_{i}") for i in range(1, SOCRATIC_TURNS + 1)]
        return {
            "student_opening": _text(a, "student_opening"),
            "withheld_answer": _text(a, "withheld_answer"),
            "turns": [[_text(a, h), _text(a, s)] for h, s in turns],
        }
    return {"verdict": (_values(a, "verdict") or [None])[0], "edited_answer": _text(a, "edited_answer")}


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.lower()))


def answer_key(kind: str, a: Annotation) -> str:
    """What 'the same answer' means for majority voting: the normalised payload."""
    p = payload(kind, a)
    if kind == "review" and p["verdict"] != "edit":
        p["edited_answer"] = ""
    return (
        json.dumps(p, sort_keys=True, default=str) if kind == "section_label" else _norm(json.dumps(p, sort_keys=True))
    )


def _latest(cands: list[Annotation]) -> Annotation:
    return max(cands, key=lambda a: (a.ts, a.created_at, a.id))


def resolve(kind: str, cands: list[Annotation], rule: str, prefer_ground_truth: bool = True) -> tuple[Annotation, str]:
    """Pick one annotation: (winner, how) with how in single|ground_truth|latest|majority|tie_latest."""
    if len(cands) == 1:
        return cands[0], "single"
    if prefer_ground_truth and any(a.ground_truth for a in cands):
        return _latest([a for a in cands if a.ground_truth]), "ground_truth"
    if rule == "majority":
        votes = Counter(answer_key(kind, a) for a in cands)
        top = max(votes.values())
        leaders = [k for k, v in votes.items() if v == top]
        if len(leaders) == 1 and top > 1:
            return _latest([a for a in cands if answer_key(kind, a) == leaders[0]]), "majority"
        return _latest([a for a in cands if answer_key(kind, a) in leaders]), "tie_latest"
    return _latest(cands), "latest"


def provenance(t: Task) -> dict[str, Any]:
    a = t.winner
    assert a is not None
    return {
        "annotator": a.annotator,
        "annotation_id": a.id,
        "task_id": t.task_id,
        "external_id": t.external_id,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "lead_time": a.lead_time,
        "ground_truth": a.ground_truth,
        "snapshot": t.snapshot,
        "project": t.project,
        "project_kind": t.kind,
        "n_annotations": t.n_candidates,
        "resolved_by": t.how,
        "relinked_from": t.relinked_from,
    }


def _record(t: Task, kind: str, messages: list[dict], subject: str | None, meta: dict, suffix: str = "") -> dict:
    return {
        "example_id": stable_id("annotation", t.external_id, suffix),
        "kind": kind,
        "messages": messages,
        "subject": subject,
        "section_id": t.section_id,
        "source": "annotation",
        "provenance": provenance(t),
        "meta": meta,
    }


def to_examples(t: Task, subject: str | None) -> tuple[list[dict], tuple[str, str] | None]:
    """Example records of a resolved task, plus (report bucket, reason) when it is dropped or flagged."""
    assert t.winner is not None
    p = payload(t.kind, t.winner)
    if t.kind == "qa":
        if not p["question"] or not p["answer"]:
            return [], ("incomplete", "question or answer empty")
        out = [
            _record(
                t,
                "qa",
                [{"role": "user", "content": p["question"]}, {"role": "assistant", "content": p["answer"]}],
                subject,
                {},
            )
        ]
        if len(p["distractors"]) >= 2:
            options = [p["answer"], *p["distractors"]]
            order = sorted(range(len(options)), key=lambda i: stable_id(t.external_id, "mc", i))
            options = [options[i] for i in order]
            ans = options.index(p["answer"])
            out.append(
                _record(
                    t,
                    "mc",
                    [
                        {"role": "user", "content": mc_prompt(p["question"], options)},
                        {"role": "assistant", "content": mc_reply(options, ans)},
                    ],
                    subject,
                    {"options": options, "answer_index": ans},
                    "mc",
                )
            )
        return out, None
    if t.kind == "socratic":
        if not p["student_opening"] or not p["turns"][0][0]:
            return [], ("incomplete", "student opening or first hint empty")
        msgs = [{"role": "user", "content": p["student_opening"]}]
        for hint, reply in p["turns"]:
            if not hint:
                break
            msgs.append({"role": "assistant", "content": hint})
            if not reply:
                break
            msgs.append({"role": "user", "content": reply})
        if msgs[-1]["role"] == "user":
            msgs.pop()
        rec = _record(
            t,
            "socratic",
            msgs,
            subject,
            {
                "withheld_answer": p["withheld_answer"],
                "reference_answer": p["withheld_answer"],
                "tutor_turns": sum(m["role"] == "assistant" for m in msgs),
            },
        )
        ans = _norm(p["withheld_answer"])
        if ans and any(f" {ans} " in f" {_norm(m['content'])} " for m in msgs if m["role"] == "assistant"):
            return [rec], ("socratic_leaks", "a tutor turn states the withheld answer")
        return [rec], None
    # review
    verdict = p["verdict"]
    if verdict not in VERDICTS:
        return [], ("incomplete", f"verdict {verdict!r} not in {list(VERDICTS)}")
    if verdict == "reject":
        return [], ("rejected_reviews", "verdict reject")
    answer = p["edited_answer"] if verdict == "edit" else t.data["model_answer"]
    if not answer.strip():
        return [], ("incomplete", "verdict edit without edited text")
    meta = {"verdict": verdict, "reviewed_example_id": t.data.get("example_id")}
    return [
        _record(
            t,
            "qa",
            [{"role": "user", "content": t.data["question"]}, {"role": "assistant", "content": answer}],
            subject,
            meta,
        )
    ], None
