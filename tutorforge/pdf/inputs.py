"""What the *.pdf names in an input folder point at: regular files to read, or the reason why not.

A directory, a named pipe (never opened: reading one blocks until something writes to it), a socket or a device
named *.pdf, a dangling or looping symlink, and a symlink out of the input folder (unless `follow_symlinks`) are
reported with a one-line reason instead of being dropped silently or read from wherever they point.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path


class NotAFile(Exception):
    """A *.pdf name that is not a readable regular file; the message is the one-line quarantine reason."""


def pdf_names(src: Path) -> list[str]:
    """Names directly inside `src` ending in .pdf (case-insensitive), sorted; whatever they point at."""
    return sorted(p.name for p in src.iterdir() if p.suffix.lower() == ".pdf")


def _not_a_file(mode: int) -> str | None:
    """None for a regular file, else the reason it is not read."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory, not a PDF file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a PDF file (never opened: reading it would block)"
    if stat.S_ISSOCK(mode):
        return "a socket, not a PDF file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file, not a PDF file"
    return "not a regular file"


def check(path: Path, root: Path, follow_symlinks: bool) -> None:
    """Raise NotAFile unless `path` is (a symlink allowed to point at) a regular file; root: the resolved folder."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as e:
        raise NotAFile(f"cannot be read: {e.strerror}") from None
    if stat.S_ISLNK(mode):
        target = os.readlink(path)
        try:
            mode = os.stat(path).st_mode
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise NotAFile(f"symlink loop ({path.name} -> {target})") from None
            if e.errno == errno.ENOENT:
                raise NotAFile(f"dangling symlink: its target {target} does not exist") from None
            raise NotAFile(f"symlink to {target} cannot be followed: {e.strerror}") from None
        real = Path(os.path.realpath(path))
        if not follow_symlinks and not real.is_relative_to(root):
            raise NotAFile(
                f"symlink pointing outside the input folder (to {real}); set ingest.follow_symlinks: true to read it"
            )
    reason = _not_a_file(mode)
    if reason:
        raise NotAFile(reason)


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the regular file at `path`; opened non-blocking and checked again on the open descriptor, so a file
    swapped for a pipe after `check` cannot hang the run (NotAFile); unreadable: NotAFile with the reason."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise NotAFile(f"cannot be read: {e.strerror}") from None
    try:
        reason = _not_a_file(os.fstat(fd).st_mode)
        if reason:
            raise NotAFile(reason)
        h = hashlib.sha256()
        while block := os.read(fd, chunk):
            h.update(block)
        return h.hexdigest()
    except OSError as e:
        raise NotAFile(f"cannot be read: {e.strerror}") from None
    finally:
        os.close(fd)
