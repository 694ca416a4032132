"""A crash-, hang- and OOM-tolerant process pool: fn(*task) over tasks in forked workers, results in task order.

Work never runs in the calling process, even with one worker, so a segfault, an out-of-memory kill or a task past its
time budget costs only that task: its worker is killed together with its process group (the tesseract it started,
say) and replaced, and the task's result says why. Fork keeps start-up cheap and lets workers see the parent's state
(tasks travel by index, only results are pickled).

    results = run_tasks(fn, [(path, 0), (path, 1)], workers=4, desc="ingest: OCR", timeout=60.0)
    # each result: fn's return value, or {"error": "<one line>", "failure": "exception" | "crash" | "timeout"}
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from tutorforge.core.logs import get_logger, progress

log = get_logger(__name__)


def safe(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), or {"error": "<Type>: <first line of the message>", "failure": "exception"} if it raises."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - one bad page must not kill the run
        return {
            "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300],
            "failure": "exception",
        }


def _serve(conn: Connection, fn: Callable[..., Any], tasks: Sequence[tuple], inherited: list[Connection]) -> None:
    """Worker loop: run the task whose index arrives, send (index, result) back; None or a closed pipe ends it."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own process group: killing it reaches whatever it started
    # No core file: a crashed worker is a forked copy of the parent (GBs with torch loaded); dumping it takes seconds,
    # long enough to be counted a timeout instead of a crash, and litters the working directory.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for c in inherited:  # other workers' pipes: holding them would hide the parent's death from those workers
        c.close()
    while True:
        try:
            i = conn.recv()
        except (EOFError, OSError):
            return
        if i is None:
            return
        res = safe(fn, *tasks[i])
        try:
            conn.send((i, res))
        except OSError:  # the parent is gone
            return
        except Exception as e:  # noqa: BLE001 - a result that cannot be pickled
            conn.send((i, {"error": f"result not transferable: {type(e).__name__}: {e}"[:300], "failure": "exception"}))


def _signal_name(code: int) -> str:
    try:
        name = signal.Signals(code).name
    except ValueError:
        return f"signal {code}"
    return f"{name}: killed, e.g. out of memory" if code == signal.SIGKILL else name


class _Worker:
    """One forked worker process, the task it holds and when that task's time is up."""

    def __init__(self, ctx: Any, fn: Callable[..., Any], tasks: Sequence[tuple], others: list[Connection]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, fn, tasks, others), daemon=True)
        self.proc.start()
        child.close()
        with contextlib.suppress(OSError):
            os.setpgid(self.proc.pid, self.proc.pid)  # also here: no window in which a kill misses the group
        self.task: int | None = None
        self.deadline = math.inf

    def give(self, i: int, limit: float | None) -> bool:
        """Hand task i over; False when the worker is gone (it died while idle)."""
        try:
            self.conn.send(i)
        except OSError:
            return False
        self.task, self.deadline = i, time.monotonic() + limit if limit else math.inf
        return True

    def receive(self) -> Any | None:
        """The held task's result, or None when the worker died instead of answering."""
        try:
            if self.conn.poll():
                _, res = self.conn.recv()
                self.task, self.deadline = None, math.inf
                return res
        except Exception:  # noqa: BLE001,S110 - EOF or a message cut short by the death of the worker
            pass
        return None

    def kill(self) -> str:
        """SIGKILL the worker's process group (the worker is not reaped yet, so its pid cannot have been reused);
        returns how the worker ended."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.join(10)
        self.conn.close()
        code = self.proc.exitcode
        return "unknown" if code is None else _signal_name(-code) if code < 0 else f"exit status {code}"

    def stop(self) -> None:
        """Ask the worker to finish; then clear its process group of anything it left behind."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        wait([self.proc.sentinel], 10)
        self.kill()


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple],
    workers: int,
    desc: str,
    timeout: float | Sequence[float | None] | None = None,
) -> list[Any]:
    """fn(*task) for each task in up to `workers` forked worker processes, results in task order (fn must not return
    None). A task that raises, whose worker dies, or that runs past its `timeout` (seconds; one for all tasks or one
    per task) comes back as {"error": msg, "failure": "exception" | "crash" | "timeout"}; the run goes on."""
    n = len(tasks)
    limits = list(timeout) if isinstance(timeout, Sequence) else [timeout] * n
    results: list[Any] = [None] * n
    pending = deque(range(n))
    ctx = mp.get_context("fork")
    pool: list[_Worker] = []
    ticks = progress(range(n), desc, logger=log)
    next(ticks, None)
    done = 0
    try:
        while done < n:
            for w in [w for w in pool if w.task is None]:
                if not pending:
                    break
                i = pending.popleft()
                if not w.give(i, limits[i]):
                    pending.appendleft(i)
                    pool.remove(w)
                    w.kill()
            while pending and len(pool) < max(1, workers):
                w = _Worker(ctx, fn, tasks, [x.conn for x in pool])
                i = pending.popleft()
                if w.give(i, limits[i]):
                    pool.append(w)
                else:  # died on start: the task is not retried forever
                    results[i] = {"error": f"worker process died on start ({w.kill()})", "failure": "crash"}
                    done += 1
                    next(ticks, None)
            busy = [w for w in pool if w.task is not None]
            if not busy:
                continue
            first = min(w.deadline for w in busy)
            left = None if first == math.inf else max(0.0, first - time.monotonic())
            ready = set(wait([x for w in busy for x in (w.conn, w.proc.sentinel)], left))
            for w in busy:
                i = w.task
                assert i is not None
                if w.conn in ready or w.proc.sentinel in ready:
                    res = w.receive()
                    if res is None:
                        pool.remove(w)
                        res = {"error": f"worker process died ({w.kill()})", "failure": "crash"}
                elif time.monotonic() >= w.deadline:
                    pool.remove(w)
                    w.kill()
                    res = {"error": f"timed out after {limits[i]:g} s (worker killed)", "failure": "timeout"}
                else:
                    continue
                results[i] = res
                done += 1
                next(ticks, None)
    finally:
        for w in pool:
            if w.task is None:
                w.stop()
            else:  # interrupted (KeyboardInterrupt, say): do not wait for its task
                w.kill()
        ticks.close()  # type: ignore[attr-defined]
    return results
