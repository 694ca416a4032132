"""Logging and progress shared by stages: where we are and how far there is to go."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def get_logger(name: str) -> logging.Logger:
    """A logger writing `time level name: message` to stderr (level from TUTORFORGE_LOG_LEVEL)."""
    root = logging.getLogger("tutorforge")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
        root.setLevel(os.environ.get("TUTORFORGE_LOG_LEVEL", "INFO"))
        root.propagate = False
    return root.getChild(name.removeprefix("tutorforge.").removeprefix("stages.").removeprefix("flows."))


def progress(
    items: Iterable[T], desc: str, total: int | None = None, logger: logging.Logger | None = None, every: int = 0
) -> Iterator[T]:
    """tqdm progress bar (on a TTY) plus a log line every `every` items (default ~10 lines per run)."""
    from tqdm import tqdm

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    step = every or max(1, (total or 100) // 10)
    bar = tqdm(items, desc=desc, total=total, disable=not sys.stderr.isatty(), leave=False)
    for i, item in enumerate(bar, 1):
        yield item
        if logger and (i % step == 0 or i == total):
            logger.info("%s: %d/%s", desc, i, total if total is not None else "?")
