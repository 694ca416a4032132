"""Replace a stage's set of outputs as a whole: after a crash there is the complete old or the complete new set.

    OUTPUTS = ("pages.jsonl", "documents.jsonl", "quarantine.json", "report.json")      # the stage's declared outputs
    with replace_outputs("artifacts/ingest", OUTPUTS) as outs:
        write_records(outs / "pages.jsonl", pages, "page")      # outs / name: where the new `name` is staged
        ...

Protocol (all inside the output folder, so every rename stays on one filesystem):
1. Start: under an flock of the folder, the sweep (below) runs, then a staging folder `.outputs.<random>.txn/` is made
   and flock'ed for the writer's lifetime (a sweep skips a locked one: its writer is alive).
2. The writer fills `<staging>/new/<name>` (files or folders). An exception deletes the staging folder: the old
   outputs were never touched.
3. Commit: everything staged is fsync'ed, then `<staging>/journal.json` (each name with the inode number of its new
   entry, or `remove` for a declared name the writer did not produce) is written, fsync'ed and renamed into place:
   the commit point. (Inode numbers, not devices: every move stays in one filesystem, and device numbers may change
   across a reboot.)
4. Apply, under the folder lock: each name is swapped in with renameat2(RENAME_EXCHANGE), so a reader never finds
   it missing; the old entry lands in the staging folder. A step is skipped when the name already holds the
   recorded inode, so applying again after a crash is safe (roll forward).
5. The journal is deleted, then the staging folder with the old generation in it.

Sweep (every writer of a folder runs it when it starts and again before it applies): an unlocked staging folder
with a journal is rolled forward, one without is deleted; stale temp names of the declared outputs (`.<name>.old`,
`.<name>[.<anything>].tmp`, left by a kill in atomic_open or the previous atomic_dir) are deleted. Anything else in
the folder (DVC's .gitignore, checkpoints/) is left alone. Readers between a crash and the next writer's sweep, and
during the milliseconds of step 4, can see names of both generations; after the sweep, never.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tutorforge.core.logs import get_logger

log = get_logger(__name__)

STAGING_PREFIX, STAGING_SUFFIX = ".outputs.", ".txn"
JOURNAL = "journal.json"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2: Any = getattr(_libc, "renameat2", None)  # glibc >= 2.28; absent elsewhere (macOS, old musl)
if _renameat2 is not None:
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _renameat2.restype = ctypes.c_int


def exchange_paths(a: str | Path, b: str | Path) -> bool:
    """Swap two existing paths (files or folders) in one step; False where the libc, kernel or filesystem cannot."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # no renameat2 / no RENAME_EXCHANGE on this filesystem
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


class OutputSet:
    """The outputs being staged: `outs / name` is where the new version of declared output `name` goes."""

    def __init__(self, folder: Path, names: tuple[str, ...], staging: Path) -> None:
        self.folder, self.names, self.staging = folder, names, staging
        self.new = staging / "new"

    def __truediv__(self, name: str) -> Path:
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of the declared outputs {list(self.names)} of {self.folder}")
        return self.new / name

    def adopt(self, name: str, src: str | Path) -> Path:
        """Move an already written file or folder (on the same filesystem) in as the new `name`."""
        dest = self / name
        os.rename(src, dest)
        return dest


@contextlib.contextmanager
def replace_outputs(folder: str | Path, names: Iterable[str]) -> Iterator[OutputSet]:
    """Stage new versions of `names` (entries of `folder`); on success they replace the old ones as a whole, and a
    declared name the writer did not produce is removed. On an exception nothing in `folder` changes."""
    folder, names = Path(folder), tuple(names)
    for name in names:
        if not name or name.startswith(".") or name != Path(name).name or names.count(name) > 1:
            raise ValueError(f"bad output name {name!r}: one plain, unique entry name per output")
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        _sweep(folder, names)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, suffix=STAGING_SUFFIX, dir=folder))
        lock_fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # released by the kernel when this process dies, however it dies
    try:
        outs = OutputSet(folder, names, staging)
        try:
            outs.new.mkdir()
            yield outs
            _commit(outs)
        except BaseException:
            if not (staging / JOURNAL).exists():  # a failure after the commit point is rolled forward by the sweep
                shutil.rmtree(staging, ignore_errors=True)
            raise
        with _locked(folder):
            _sweep(folder, names)  # a writer killed while this one was writing is rolled forward first
            _apply(folder, staging)
            _fsync_path(folder)
        os.unlink(staging / JOURNAL)  # from here a kill leaves an uncommitted staging folder: deleted by a sweep
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        os.close(lock_fd)


def sweep_outputs(folder: str | Path, names: Iterable[str] = ()) -> None:
    """Finish or undo what killed writers left in `folder` (see the module doc); `names`: its declared outputs."""
    folder = Path(folder)
    if folder.is_dir():
        with _locked(folder):
            _sweep(folder, tuple(names))


def _stale_name(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in names) or r"(?!)"
    return re.compile(rf"\.(?:{alternatives})(?:\..+)?\.(?:tmp|old)")


def _sweep(folder: Path, names: tuple[str, ...]) -> None:
    stale = _stale_name(names)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(STAGING_PREFIX) and entry.name.endswith(STAGING_SUFFIX) and _is_dir(entry):
            _recover(folder, entry)
        elif stale.fullmatch(entry.name):
            log.info("removing %s (left by an interrupted write)", entry)
            _remove(entry)


def _recover(folder: Path, staging: Path) -> None:
    """Roll a dead writer's committed staging folder forward, or delete an uncommitted one; skip a live writer's."""
    try:
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its writer is still running
        if (staging / JOURNAL).exists():
            log.warning("completing the interrupted replacement of outputs in %s", folder)
            _apply(folder, staging)
            _fsync_path(folder)
            os.unlink(staging / JOURNAL)
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        os.close(fd)


def _commit(outs: OutputSet) -> None:
    entries: list[dict[str, Any]] = []
    for name in outs.names:
        staged = outs.new / name
        if os.path.lexists(staged):
            _fsync_tree(staged)
            entries.append({"name": name, "ino": os.lstat(staged).st_ino})
        else:
            entries.append({"name": name, "remove": True})
    _fsync_path(outs.new)
    tmp = outs.staging / f"{JOURNAL}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"entries": entries}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, outs.staging / JOURNAL)  # the commit point
    _fsync_path(outs.staging)


def _apply(folder: Path, staging: Path) -> None:
    """Move every journal entry into place; safe to run again on a partly applied journal."""
    with open(staging / JOURNAL, encoding="utf-8") as f:
        entries = json.load(f)["entries"]
    old = staging / "old"
    for e in entries:
        target, staged = folder / e["name"], staging / "new" / e["name"]
        if e.get("remove"):
            if os.path.lexists(target):
                old.mkdir(exist_ok=True)
                os.rename(target, old / e["name"])
            continue
        if _inode(target) == e["ino"]:
            continue  # already in place
        if _inode(staged) != e["ino"]:
            log.warning("%s: staged entry vanished, leaving %s as it is", staging, target)
            continue
        if not os.path.lexists(target):
            os.rename(staged, target)
        elif exchange_paths(staged, target):
            pass  # the old entry now sits at `staged` and goes with the staging folder
        elif not _is_dir(staged) and not _is_dir(target):
            os.replace(staged, target)  # files: one atomic rename
        else:
            # Fallback only where RENAME_EXCHANGE is unsupported (non-Linux, some network/FUSE filesystems): two
            # renames, so `target` is missing in between; a crash there is rolled forward by the sweep.
            old.mkdir(exist_ok=True)
            os.rename(target, old / e["name"])
            os.rename(staged, target)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def _is_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove(path: Path) -> None:
    if _is_dir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """fsync every file and folder under `path`, so a committed generation survives a power cut too."""
    if path.is_symlink():
        return
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for f in files:
                if not os.path.islink(os.path.join(root, f)):
                    _fsync_path(Path(root, f))
            _fsync_path(Path(root))
    else:
        _fsync_path(path)
