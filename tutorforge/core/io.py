"""JSONL/JSON I/O with atomic writes: readers never see a half-written file.

Every file is written to a temporary sibling and renamed into place (os.replace is atomic on POSIX), so an
interrupted write leaves the previous file untouched. A folder (`atomic_dir`) or a stage's whole set of outputs
(`tutorforge.core.outputs.replace_outputs`) is staged and swapped in as a whole, so a kill at any point leaves the
old or the new version, never a missing folder or a mix.

Reading: a JSONL line or a JSON file that is not JSON raises RecordError (a ValueError) naming the file (and line),
so a stage turns bad upstream data into its one-line error (tutorforge/core/records.py checks the fields).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from tutorforge.core.outputs import replace_outputs

_UMASK = os.umask(0)
os.umask(_UMASK)


class RecordError(ValueError):
    """A record that breaks its contract (one line: file, record number, field, problem); a JSONL line or JSON file
    that is not JSON is one too. Re-exported by tutorforge.core.records, which checks the fields."""


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file next to `path`; on success fsync and rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh folder to fill; on success it replaces `path` in one step (readers never find `path` missing,
    a kill leaves the old or the new folder; see core/outputs.py). On an exception `path` stays as it was."""
    path = Path(path)
    with replace_outputs(path.parent, [path.name]) as outs:
        staged = outs / path.name
        staged.mkdir()
        yield staged


def dumps(record: Any) -> str:
    """Canonical JSON (sorted keys, no NaN) so equal records are byte-identical."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, allow_nan=False)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically, one JSON object per line; returns the count."""
    n = 0
    with atomic_open(path) as f:
        for rec in records:
            f.write(dumps(rec) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield records; a broken line raises RecordError naming file and line number."""
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{lineno}: invalid JSON line ({e.msg})") from e


def write_json(path: str | Path, obj: Any, indent: int = 2) -> None:
    """Write one JSON document atomically (sorted keys, trailing newline)."""
    with atomic_open(path) as f:
        f.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent, allow_nan=False) + "\n")


def read_json(path: str | Path, expect: type | None = None) -> Any:
    """One JSON document; not JSON (or, with `expect`, not of that type: dict, list) raises RecordError naming the
    file."""
    with Path(path).open(encoding="utf-8") as f:
        try:
            obj = json.load(f)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if expect is not None and not isinstance(obj, expect):
        want = {dict: "an object", list: "an array"}.get(expect, expect.__name__)
        raise RecordError(f"{path}: expected {want}, got {type(obj).__name__}")
    return obj
