"""Run a module with a crash point: the Nth filesystem move or delete SIGKILLs the process before it happens.

    python -m tests.support.crash 3 stages.segment -p params.yaml -S segment.output=/tmp/out
    TF_CRASH_NO_EXCHANGE=1 python -m tests.support.crash 3 tests.support.outputs_writer /tmp/out 2

Counts calls of os.rename, os.replace, os.unlink, os.rmdir and tutorforge.core.outputs.exchange_paths (the
renameat2 swap) in this process; call N is replaced by a real SIGKILL of the process, so nothing after it runs
(no finally blocks, no atexit). A run that makes fewer than N such calls finishes normally (exit 0), so a test can
step N up from 1 until the run completes and so visit every crash point of the commit.
With TF_CRASH_NO_EXCHANGE=1, exchange_paths reports "unsupported" and the fallback path (two renames) is taken.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections.abc import Callable
from typing import Any


def install(crash_at: int) -> None:
    """Patch the move/delete calls so that call number `crash_at` kills the process."""
    import tutorforge.core.outputs as outputs

    calls = [0]

    def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == crash_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return wrapper

    for name in ("rename", "replace", "unlink", "rmdir"):
        setattr(os, name, counted(getattr(os, name)))
    exchange = outputs.exchange_paths
    if os.environ.get("TF_CRASH_NO_EXCHANGE"):

        def exchange(a: Any, b: Any) -> bool:
            return False

    outputs.exchange_paths = counted(exchange)


def main() -> None:
    crash_at, module, *args = sys.argv[1:]
    install(int(crash_at))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
