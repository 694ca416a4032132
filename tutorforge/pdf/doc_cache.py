"""ingest's per-document cache: one JSON entry per (file sha256, params + code hash), `<sha256[:32]>-<key>.json`.

The cache only saves time, so it never fails the run: an entry that cannot be read, is not JSON, has the wrong shape
or belongs to another document is deleted with a warning and the document is processed again; an entry that cannot
be written is skipped with a warning.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from tutorforge.core.io import atomic_open, dumps, read_json
from tutorforge.core.logs import get_logger
from tutorforge.core.records import RecordError, check_records

log = get_logger(__name__)

ACTIONS = ("rejected", "page skipped", "outline ignored")


def entry(cache: Path, sha: str, key: str) -> Path:
    return cache / f"{sha[:32]}-{key}.json"


def _problem(res: Any, sha: str) -> str | None:
    """Why `res` is not a cached result of the document with this sha256 (None: it is)."""
    if not isinstance(res, dict) or not {"document", "pages", "quarantine"} <= res.keys():
        return "not a {document, pages, quarantine} object"
    doc, pages, quarantine = res["document"], res["pages"], res["quarantine"]
    if not isinstance(doc, dict) or doc.get("sha256") != sha:
        return "it belongs to another document"
    if not isinstance(pages, list) or not isinstance(quarantine, list):
        return "pages/quarantine are not lists"
    try:
        check_records([doc], "document", "document")
        check_records(pages, "page", "pages")
    except RecordError as e:
        return str(e)
    for q in quarantine:
        if not (isinstance(q, dict) and isinstance(q.get("reason"), str) and q.get("action") in ACTIONS):
            return "a quarantine entry without reason/action"
    return None


def load(path: Path, sha: str) -> dict[str, Any] | None:
    """The cached result at `path` for the document with this sha256, or None (no entry, or a bad one: dropped)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        mode = 0
    res, problem = None, "not a regular file"  # a symlink, directory or pipe is never read (a pipe would block)
    if stat.S_ISREG(mode):
        try:
            res = read_json(path)
            problem = _problem(res, sha)
        except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
            problem = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    if problem is None:
        return res
    log.warning("ingest: cache entry %s is unusable (%s): dropped, the document is processed again", path, problem)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as e:
        log.warning("ingest: cannot delete cache entry %s (%s)", path, e)
    return None


def store(path: Path, res: dict[str, Any]) -> None:
    """Write one entry atomically; a cache that cannot be written costs only the time it would have saved."""
    try:
        with atomic_open(path) as f:
            f.write(dumps(res))
    except OSError as e:
        log.warning("ingest: cannot write cache entry %s (%s)", path, e)
