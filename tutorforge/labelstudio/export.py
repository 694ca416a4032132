"""Parse, validate and interpret Label Studio JSON export snapshots (the one module that reads them).

`load_snapshot` validates a whole file (types of every field the pipeline relies on) and raises `ExportError`
naming the file, the task index/id and the annotation/result index. `resolve` picks one annotation among several
(ground truth first, then `latest` or `majority` with ties -> latest); `to_examples` turns the winner into example
records per the project's contract (`tutorforge/labelstudio/annotations.py` documents the outputs).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.labelstudio.schema import DIFFICULTIES, SOCRATIC_TURNS, VERDICTS, infer_kind, project_kinds

__all__ = [
    "DIFFICULTIES",
    "VERDICTS",
    "ExportError",
    "Annotation",
    "Task",
    "Snapshot",
    "load_snapshot",
    "resolve",
    "answer_key",
    "payload",
    "to_examples",
    "provenance",
]

KINDS = tuple(project_kinds())


class ExportError(ValueError):
    """A snapshot that is not a valid Label Studio JSON export (message names file + task + item)."""


@dataclass
class Annotation:
    id: int
    annotator: int | str
    result: list[dict]
    created_at: str
    updated_at: str
    ts: datetime
    lead_time: float | None
    cancelled: bool
    ground_truth: bool


@dataclass
class Task:
    task_id: int
    external_id: str
    kind: str
    data: dict
    annotations: list[Annotation]
    n_cancelled: int
    snapshot: str
    project: int | None
    # filled by the stage once resolved
    section_id: str | None = None
    winner: Annotation | None = None
    how: str = ""
    n_candidates: int = 0
    relinked_from: str | None = None


@dataclass
class Snapshot:
    path: Path
    name: str
    time: str
    tasks: list[Task] = field(default_factory=list)


def _ts(value: Any, where: str, name: str) -> datetime:
    if not isinstance(value, str):
        raise ExportError(f"{where}: '{name}' must be an ISO timestamp string, got {type(value).__name__}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as e:
        raise ExportError(f"{where}: '{name}' is not an ISO timestamp: {value!r}") from e
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _need(obj: dict, key: str, types: type | tuple[type, ...], where: str, optional: bool = False) -> Any:
    if key not in obj:
        if optional:
            return None
        raise ExportError(f"{where}: missing field '{key}'")
    v = obj[key]
    if optional and v is None:
        return None
    if not isinstance(v, types) or (
        isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    ):
        want = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise ExportError(f"{where}: field '{key}' must be {want}, got {type(v).__name__}")
    return v


def _parse_result(r: Any, where: str) -> dict:
    if not isinstance(r, dict):
        raise ExportError(f"{where}: must be an object, got {type(r).__name__}")
    for k in ("from_name", "to_name", "type"):
        _need(r, k, str, where)
    value = _need(r, "value", dict, where)
    rtype = r["type"].lower()
    key = {"choices": "choices", "textarea": "text"}.get(rtype)
    if key is not None:
        items = value.get(key)
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise ExportError(f"{where}: value.{key} must be a list of strings for type '{r['type']}'")
    return r


def _parse_annotation(a: Any, where: str) -> Annotation:
    if not isinstance(a, dict):
        raise ExportError(f"{where}: must be an object, got {type(a).__name__}")
    aid = _need(a, "id", int, where)
    by = _need(a, "completed_by", (int, dict), where)
    if isinstance(by, dict):  # expanded user object in some exports: keep the id only (no e-mail in artifacts)
        by = _need(by, "id", int, f"{where}: completed_by")
    result = _need(a, "result", list, where)
    created = _need(a, "created_at", str, where)
    updated = _need(a, "updated_at", str, where, optional=True) or created
    lead = _need(a, "lead_time", (int, float), where, optional=True)
    cancelled = _need(a, "was_cancelled", bool, where, optional=True) or False
    gt = _need(a, "ground_truth", bool, where, optional=True) or False
    _ts(created, where, "created_at")
    ts = _ts(updated, where, "updated_at")
    res = [_parse_result(r, f"{where}: result[{k}]") for k, r in enumerate(result)]
    return Annotation(aid, by, res, created, updated, ts, None if lead is None else float(lead), cancelled, gt)


def load_snapshot(path: str | Path) -> Snapshot:
    """Read and validate one export file; raises ExportError naming the file and the offending item."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(raw, list):
        raise ExportError(f"{path}: a Label Studio JSON export is a list of tasks, got {type(raw).__name__}")
    snap = Snapshot(path, path.name, "")
    newest: list[datetime] = []
    seen: set[str] = set()
    for i, t in enumerate(raw):
        where = f"{path}: task[{i}]"
        if not isinstance(t, dict):
            raise ExportError(f"{where}: must be an object, got {type(t).__name__}")
        tid = _need(t, "id", int, where)
        where = f"{path}: task[{i}] (id={tid})"
        data = _need(t, "data", dict, where)
        ext = _need(data, "external_id", str, f"{where}: data")
        where = f"{path}: task[{i}] (id={tid}, external_id={ext})"
        if ext in seen:
            raise ExportError(f"{where}: external_id appears twice in one snapshot")
        seen.add(ext)
        _need(data, "section_id", str, f"{where}: data")
        for k in ("file", "heading"):
            _need(data, k, str, f"{where}: data", optional=True)
        anns = [
            _parse_annotation(a, f"{where}: annotations[{j}]")
            for j, a in enumerate(_need(t, "annotations", list, where))
        ]
        _need(t, "predictions", list, where, optional=True)
        names = {r["from_name"] for a in anns for r in a.result}
        kind = data.get("kind") or infer_kind(names)
        if kind not in KINDS:
            raise ExportError(
                f"{where}: cannot tell the project kind (data.kind={data.get('kind')!r}, "
                f"controls={sorted(names)}); expected one of {list(KINDS)}"
            )
        if kind == "review":
            for k in ("question", "model_answer"):
                _need(data, k, str, f"{where}: data")
        newest += [a.ts for a in anns]
        if isinstance(t.get("updated_at"), str):
            newest.append(_ts(t["updated_at"], where, "updated_at"))
        live = [a for a in anns if not a.cancelled]
        snap.tasks.append(
            Task(
                tid,
                ext,
                kind,
                data,
                live,
                len(anns) - len(live),
                path.name,
                t.get("project") if isinstance(t.get("project"), int) else None,
            )
        )
    snap.time = max(newest).isoformat() if newest else ""
    return snap


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
            letters = "ABCDEFGH"
            prompt = p["question"] + "\n" + "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(options))
            out.append(
                _record(
                    t,
                    "mc",
                    [
                        {"role": "user", "content": prompt},
                        {"role": "assistant", "content": f"{letters[ans]}. {p['answer']}"},
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
