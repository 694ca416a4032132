"""Stable content-hash ids: the same content always gets the same id, on any machine."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_id(*parts: object, length: int = 16) -> str:
    """Hash of the parts joined by a separator that cannot occur in str() of ints/ids."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]
