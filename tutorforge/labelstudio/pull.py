"""Pull a Label Studio project's export into a snapshot file: validated, atomic, with what changed since the last.

    from tutorforge.labelstudio.pull import pull
    summary = pull(client, kinds["qa"], "data/annotations/qa.json", AnnotationsConfig().text_rules())
    summary["new"], summary["changed"], summary["deleted"], summary["newly_annotated"], summary["rejected"]

The downloaded bytes are parsed and validated by `parse_snapshot` - the very function the annotations stage runs on
the snapshot files - before the rename: anything the stage would refuse (not JSON, nested 200k deep, a field of the
wrong type, a string where a list belongs) is a one-line LabelStudioError naming the task, and the previous
snapshot stays byte-identical. Text the stage would leave out (too long, chat-control tokens) does not stop the
pull - the snapshot is Label Studio's truth - but is listed in `summary["rejected"]` with the task ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tutorforge.core.io import atomic_open
from tutorforge.core.logs import get_logger
from tutorforge.labelstudio.client import Client, LabelStudioError, project_id
from tutorforge.labelstudio.snapshot import ExportError, parse_snapshot
from tutorforge.labelstudio.text_guard import TextRules

log = get_logger(__name__)


def _index(export: list[dict]) -> dict[str, dict[int, str]]:
    """external_id -> {annotation id: updated_at} (task-level data changes count as a change too)."""
    out: dict[str, dict[int, str]] = {}
    for t in export:
        ext = (t.get("data") or {}).get("external_id")
        if ext:
            out[ext] = {a["id"]: str(a.get("updated_at")) for a in t.get("annotations") or []}
            out[ext][-1] = json.dumps(t.get("data"), sort_keys=True)
    return out


def diff_exports(old: list[dict], new: list[dict]) -> dict[str, list[str]]:
    """What changed between two (valid) exports, by task external id: new / changed / deleted / newly annotated."""
    a, b = _index(old), _index(new)
    annotated = [e for e in sorted(b) if len(b[e]) > 1 and len(a.get(e, {-1: ""})) <= 1]
    return {
        "new": sorted(set(b) - set(a)),
        "deleted": sorted(set(a) - set(b)),
        "changed": sorted(e for e in set(a) & set(b) if a[e] != b[e]),
        "newly_annotated": annotated,
    }


def _previous(path: Path, rules: TextRules) -> list[dict]:
    """The previous snapshot's tasks when it is a valid export, else [] (diff against nothing, with a warning)."""
    if not path.exists():
        return []
    try:
        return parse_snapshot(path.read_bytes(), path, rules).export
    except (OSError, ExportError) as e:
        log.warning("previous snapshot unusable, diffing against nothing: %s", str(e)[:300])
        return []


def pull(client: Client, kind: Any, out_path: str | Path, rules: TextRules | None = None) -> dict[str, Any]:
    """Export the project's tasks (Label Studio's JSON export, bytes unchanged) atomically into `out_path`.

    The download is complete and validated (`parse_snapshot`, the annotations stage's parser) before the rename: an
    error (server gone mid-way, a snapshot the stage would refuse) leaves the previous snapshot byte-identical.
    Returns the diff against the previous snapshot (deleted tasks included) and the `rejected` annotations.
    """
    out_path = Path(out_path)
    rules = rules or TextRules()
    pid = project_id(client, kind)

    def download() -> bytes:
        chunks = client.sdk.projects.exports.download_sync(pid, export_type="JSON", download_all_tasks=True)
        return b"".join(chunks)

    raw = client.call(f"export project {pid}", download)
    label = f"Label Studio at {client.url}: export of project {pid} ({kind.name})"
    try:
        snap = parse_snapshot(raw, out_path, rules, label=label)
    except ExportError as e:
        raise LabelStudioError(f"{e} (previous snapshot {out_path} left untouched)") from None
    export = snap.export
    summary: dict[str, Any] = {
        "project": pid,
        "kind": kind.name,
        "file": str(out_path),
        "tasks": len(export),
        "annotations": sum(len(t.get("annotations") or []) for t in export),
        **diff_exports(_previous(out_path, rules), export),
        "rejected": snap.rejected(),
    }
    with atomic_open(out_path, "wb") as f:
        f.write(raw)
    log.info(
        "pulled %s: %d tasks, %d annotations; new %d, changed %d, deleted %d; %d left out by the stage -> %s",
        kind.name,
        len(export),
        summary["annotations"],
        len(summary["new"]),
        len(summary["changed"]),
        len(summary["deleted"]),
        len(summary["rejected"]),
        out_path,
    )
    return summary
