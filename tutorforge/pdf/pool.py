"""A crash-tolerant process pool: fn(*task) over tasks, results in task order, one failure never kills the run."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tutorforge.core.logs import get_logger, progress

log = get_logger(__name__)


def safe(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), or {"error": "<Type>: <first line of the message>"} if it raises."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - one bad document must not kill the run
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]}


def run_tasks(fn: Callable[..., Any], tasks: list[tuple], workers: int, desc: str) -> list[Any]:
    """fn(*task) for each task in a fork pool (workers <= 1: in-process), results in task order; fn must not return
    None; exceptions come back as {"error": msg}. Fork keeps start-up cheap and lets workers see the parent's state.
    Tasks lost to a dead worker (segfault, OOM kill) are retried one process each, so only the culprit fails."""
    if workers <= 1 or len(tasks) <= 1:
        return [safe(fn, *t) for t in progress(tasks, desc, logger=log)]
    results: list[Any] = [None] * len(tasks)
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx) as ex:
        futs = {ex.submit(safe, fn, *t): i for i, t in enumerate(tasks)}
        for f in progress(as_completed(futs), desc, total=len(futs), logger=log):
            try:
                results[futs[f]] = f.result()
            except BrokenProcessPool:
                pass
    for i in [i for i, r in enumerate(results) if r is None]:
        with ProcessPoolExecutor(1, mp_context=ctx) as ex1:
            try:
                results[i] = ex1.submit(safe, fn, *tasks[i]).result()
            except BrokenProcessPool as e:
                results[i] = {"error": f"worker process died: {e}"}
    return results
