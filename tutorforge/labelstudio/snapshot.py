"""Parse and validate one Label Studio JSON export snapshot: the single check both `tutorforge label pull` (on the
downloaded bytes, before the rename) and the annotations stage (on the files) run.

    snap = load_snapshot("data/annotations/qa.json", TextRules(max_chars=20_000))    # the stage
    snap = parse_snapshot(raw_bytes, "data/annotations/qa.json", rules, label=...)  # pull, before replacing the file

Structure problems raise `ExportError` (one line naming the file, the task index/id and the annotation/result
index): not JSON, nested deeper than MAX_JSON_DEPTH (a 200k-deep array is refused before `json.loads`, which would
raise RecursionError), a field of the wrong type, a string where Label Studio writes a list of strings (a `labels`
result with `"text": "Paris"` was read as one letter per line). Text that is well-formed but unfit for training
(longer than `max_chars`, chat-control tokens: tutorforge/labelstudio/text_guard.py) does not fail the snapshot: the
annotation (or, for review task data, the task) gets a `rejected` reason and the stage reports it by task id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from tutorforge.labelstudio.schema import CONTROL_TYPES, infer_kind, project_kinds
from tutorforge.labelstudio.text_guard import TextRules, text_problem

KINDS = tuple(project_kinds())
MAX_JSON_DEPTH = 64  # an export is ~6 deep (tasks > task > annotations > result > value > choices)
TEXT_KEYS = ("choices", "text", "labels")  # result value keys Label Studio writes as lists of strings
VALUE_KEY = {"choices": "choices", "textarea": "text"}  # the list a result of this type must carry
REVIEW_TEXT = ("question", "model_answer")  # task data a review example copies verbatim

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_DEPTH_STEP = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")  # open -> 2, close -> 0 (minus 1 below)


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
    rejected: str | None = None
    """Why its text may not become training data (too long, chat-control tokens), or None."""


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
    rejected: str | None = None
    """Why the task's own text (review question / model answer) may not become training data, or None."""
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
    export: list[dict] = field(default_factory=list, repr=False)
    """The parsed export as Label Studio wrote it (its task objects, unchanged)."""

    def rejected(self) -> list[str]:
        """One line per annotation / task the stage will leave out, naming the task id and the reason."""
        out = []
        for t in self.tasks:
            who = f"task id={t.task_id} ({t.external_id})"
            out += [f"{who}: {t.rejected}"] if t.rejected else []
            out += [f"{who}: {a.rejected}" for a in t.annotations if a.rejected]
        return out


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text, without recursion (strings skipped)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw)).translate(_DEPTH_STEP)
    return max(accumulate(b - 1 for b in brackets), default=0)


def load_json(raw: bytes | str, label: str) -> Any:
    """json.loads with a depth bound: any failure is an ExportError naming `label`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise ExportError(f"{label}: JSON nested {depth} levels deep (a Label Studio export has < {MAX_JSON_DEPTH})")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ExportError(f"{label}: not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None


def _ts(value: Any, where: str, name: str) -> datetime:
    if not isinstance(value, str):
        raise ExportError(f"{where}: '{name}' must be an ISO timestamp string, got {type(value).__name__}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as e:
        raise ExportError(f"{where}: '{name}' is not an ISO timestamp: {value[:80]!r}") from e
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
    rtype, ours = r["type"].lower(), CONTROL_TYPES.get(r["from_name"])
    if ours is not None and rtype != ours:  # e.g. a `labels` result on the `answer` textarea
        raise ExportError(f"{where}: type '{r['type']}' but the control '{r['from_name']}' writes '{ours}' results")
    required = VALUE_KEY.get(rtype)
    # the parser reads value.choices / value.text of our controls' results: each must be a list of strings (a
    # string would be read one letter per item)
    checked = [k for k in TEXT_KEYS if k == required or (ours is not None and k in value)]
    for key in checked:
        items = value.get(key)
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise ExportError(
                f"{where}: value.{key} must be a list of strings for type '{r['type']}', got {type(items).__name__}"
            )
    return r


def _parse_annotation(a: Any, where: str, rules: TextRules) -> Annotation:
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
    ann = Annotation(aid, by, res, created, updated, ts, None if lead is None else float(lead), cancelled, gt)
    for k, r in enumerate(res):
        if r["from_name"] not in CONTROL_TYPES:
            continue  # not one of our controls: never read, never trained on
        for s in (s for key in TEXT_KEYS for s in r["value"].get(key) or []):
            problem = text_problem(s, rules)
            if problem and ann.rejected is None:
                ann.rejected = f"annotation {aid} result[{k}] ({r['from_name']}): {problem}"
    return ann


def parse_snapshot(raw: bytes | str, path: str | Path, rules: TextRules, label: str | None = None) -> Snapshot:
    """Parse + validate a whole export; `path` is the snapshot file it is (or will be), `label` names it in errors."""
    path = Path(path)
    label = label or str(path)
    export = load_json(raw, label)
    if not isinstance(export, list):
        raise ExportError(f"{label}: a Label Studio JSON export is a list of tasks, got {type(export).__name__}")
    snap = Snapshot(path, path.name, "", export=export)
    newest: list[datetime] = []
    seen: set[str] = set()
    for i, t in enumerate(export):
        where = f"{label}: task[{i}]"
        if not isinstance(t, dict):
            raise ExportError(f"{where}: must be an object, got {type(t).__name__}")
        tid = _need(t, "id", int, where)
        where = f"{label}: task[{i}] (id={tid})"
        data = _need(t, "data", dict, where)
        ext = _need(data, "external_id", str, f"{where}: data")
        where = f"{label}: task[{i}] (id={tid}, external_id={ext[:200]})"
        if ext in seen:
            raise ExportError(f"{where}: external_id appears twice in one snapshot")
        seen.add(ext)
        _need(data, "section_id", str, f"{where}: data")
        for k in ("file", "heading"):
            _need(data, k, str, f"{where}: data", optional=True)
        anns = [
            _parse_annotation(a, f"{where}: annotations[{j}]", rules)
            for j, a in enumerate(_need(t, "annotations", list, where))
        ]
        _need(t, "predictions", list, where, optional=True)
        names = {r["from_name"] for a in anns for r in a.result}
        kind = data.get("kind") or infer_kind(names)
        if kind not in KINDS:
            raise ExportError(
                f"{where}: cannot tell the project kind (data.kind={str(data.get('kind'))[:80]!r}, "
                f"controls={sorted(names)[:20]}); expected one of {list(KINDS)}"
            )
        rejected = None
        if kind == "review":
            for k in REVIEW_TEXT:
                problem = text_problem(_need(data, k, str, f"{where}: data"), rules)
                rejected = rejected or (f"data.{k}: {problem}" if problem else None)
        newest += [a.ts for a in anns]
        if isinstance(t.get("updated_at"), str):
            newest.append(_ts(t["updated_at"], where, "updated_at"))
        live = [a for a in anns if not a.cancelled]
        project = t.get("project") if isinstance(t.get("project"), int) else None
        snap.tasks.append(Task(tid, ext, kind, data, live, len(anns) - len(live), path.name, project, rejected))
    snap.time = max(newest).isoformat() if newest else ""
    return snap


def load_snapshot(path: str | Path, rules: TextRules | None = None) -> Snapshot:
    """Read and validate one export file (see parse_snapshot); raises ExportError naming the file and the item."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a named pipe: reading one would block forever
        raise ExportError(f"{path}: not a regular file (a snapshot is a Label Studio JSON export file)")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ExportError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_snapshot(raw, path, rules or TextRules())
