"""Fake secrets planted in the environment, and a scan for them in everything a run left behind.

    secrets = plant_secrets(monkeypatch)          # {"AWS_SECRET_ACCESS_KEY": "3f9c…", ...}, set in os.environ
    scan = LeakScan(secrets)
    scan.text("registry list stderr", res.stderr)
    scan.tree(repo)                               # every file below it, bytes
    assert scan.hits == [], scan.hits             # ["dvc.lock: LABEL_STUDIO_API_KEY", ...]

Each value is 48 random hex digits, so it cannot occur by chance; a scan also looks for its first 16 characters,
which catches a secret printed truncated (`key[:16]…`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

# Every credential the project reads from the environment (grep os.environ / getenv in tutorforge, stages, flows).
SECRET_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HF_TOKEN",
    "LABEL_STUDIO_API_KEY",
    "TUTORFORGE_TEACHER_API_KEY",
)


def plant_secrets(monkeypatch: Any, names: tuple[str, ...] = SECRET_VARS) -> dict[str, str]:
    """A distinctive fake value for each name, set in the environment (undone by monkeypatch)."""
    secrets = {name: uuid.uuid4().hex + uuid.uuid4().hex[:16] for name in names}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return secrets


class LeakScan:
    """Collects `where: NAME` for every place a planted secret (or its 16-character prefix) shows up."""

    def __init__(self, secrets: dict[str, str]):
        self.needles = [(name, value[:16].encode()) for name, value in secrets.items()]
        self.hits: list[str] = []
        self.scanned = 0

    def bytes(self, where: str, data: bytes) -> None:
        self.scanned += 1
        self.hits += [f"{where}: {name}" for name, needle in self.needles if needle in data]

    def text(self, where: str, text: str) -> None:
        self.bytes(where, text.encode("utf-8", "replace"))

    def tree(self, root: Path, skip: tuple[Path, ...] = ()) -> None:
        """Every regular file below `root` (symlinks not followed), except those below a `skip` folder."""
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink() and not any(p.is_relative_to(s) for s in skip):
                self.bytes(str(p), p.read_bytes())
