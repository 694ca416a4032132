"""The manifest of a registered version, read back as untrusted data: its file keys and its objects prefix are
checked before any of them becomes a local path or an object key (registry.py reads every manifest through here).

    m = check_manifest(json.loads(raw), "tutor:v1")        # the manifest, or VerificationError naming the bad key
    check_file_keys(["sft/merged/config.json", "../x"], "tutor")   # RegistryError: file key '../x' climbs out ...
    out = confined(tmp, "sft/merged/config.json", "tutor:v1")      # tmp/sft/merged/config.json, resolved inside tmp
    content_digest(m["files"])                             # what makes two registrations the same payload

A file key is a relative POSIX path of plain names: not empty, no leading `/`, no empty, `.` or `..` part, no
backslash, NUL or other control character, not `manifest.json` (a download writes the manifest there), and never
both a file and the folder of another key. The objects prefix is `objects/<upload id>`, one plain name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tutorforge.registry.store import RegistryError, VerificationError

MANIFEST = "manifest.json"
OBJECTS_RE = re.compile(r"objects/[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def content_digest(files: dict[str, dict[str, Any]]) -> str:
    """Digest of the model payload (paths + sha256), excluding the descriptive README.md and lineage.json."""
    rows = [f"{p}\t{f['sha256']}" for p, f in sorted(files.items()) if p not in ("README.md", "lineage.json")]
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def key_problem(key: Any) -> str | None:
    """Why `key` cannot name a file of a version (None = it can)."""
    if not isinstance(key, str):
        return "is not a string"
    if not key:
        return "is empty"
    if _BAD_CHARS.search(key):
        return "contains a backslash or a control character"
    if key.startswith("/"):
        return "is an absolute path"
    parts = key.split("/")
    if ".." in parts:
        return "climbs out of the version's folder ('..')"
    if "" in parts or "." in parts:
        return "has an empty or '.' path part"
    if key == MANIFEST:
        return f"is reserved ({MANIFEST} is written next to the files)"
    return None


def check_file_keys(keys: Iterable[str], what: str, error: type[RegistryError] = RegistryError) -> None:
    """Raise `error` naming the first key (sorted) that is unsafe, or that is both a file and another key's folder."""
    keys = sorted(keys, key=str)
    for key in keys:
        problem = key_problem(key)
        if problem:
            raise error(f"{what}: file key {key!r} {problem}")
    folders = {key.rsplit("/", i)[0] for key in keys for i in range(1, key.count("/") + 1)}
    for key in keys:
        if key in folders:
            raise error(f"{what}: file key {key!r} is also the folder of another file key")


def check_manifest(m: Any, what: str) -> dict[str, Any]:
    """`m` itself when its objects prefix, file keys, sizes and sha256s are well-formed, else VerificationError."""
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
        raise VerificationError(f"{what}: {MANIFEST} has no `files` mapping")
    objects = m.get("objects")
    if not isinstance(objects, str) or not OBJECTS_RE.fullmatch(objects):
        raise VerificationError(f"{what}: {MANIFEST} objects prefix {objects!r} is not objects/<upload id>")
    check_file_keys(m["files"], f"{what}: {MANIFEST}", VerificationError)
    for key, f in m["files"].items():
        size, sha = (f.get("size"), f.get("sha256")) if isinstance(f, dict) else (None, None)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not SHA256_RE.fullmatch(str(sha)):
            raise VerificationError(f"{what}: {MANIFEST} entry of {key!r} needs a size >= 0 and a sha256 hex digest")
    return m


def confined(root: Path, key: str, what: str) -> Path:
    """root/key, after checking that it resolves (symlinks followed) inside root."""
    out = root / key
    if not out.resolve().is_relative_to(root.resolve()):
        raise VerificationError(f"{what}: file key {key!r} resolves outside {root}")
    return out
