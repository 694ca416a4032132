"""Conventions every registry object shares: the name rule, UTC timestamps, and the JSON encoding.

Model, version and alias names match `VERSION_RE` (1-64 of `A-Za-z0-9._-`, starting alphanumeric: `tutorforge-tutor`,
`v12`, `production`). Timestamps are UTC with microseconds so they sort as text (`2025-01-31T09:15:02.123456Z`).
Objects are written as `dumps` renders them: sorted keys, two-space indent, UTF-8 kept as is, a final newline.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # \Z: no trailing newline, unlike $


def now_iso() -> str:
    """UTC now with microseconds (claims, manifests, alias records; sorts as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(obj: Any) -> bytes:
    """The registry's JSON objects: sorted keys, indented, UTF-8, newline-terminated."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
