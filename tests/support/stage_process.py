"""A pipeline stage as its own process, and the one-line-error check of every bad-input test.

    proc = run_stage(project, "segment")      # `python -m stages.segment` in `project` (its params.yaml), INFO logs off
    line = one_line_error(proc, 1)            # exit code 1, stderr exactly one line, no traceback; returns the line

A process, not `stages.<name>.main()` in pytest: the exit code, the stderr and a traceback are the real ones, and a
stage that hangs or crashes on its input cannot take pytest along.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_stage(cwd: Path, stage: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m stages.<stage> *args` with `cwd` as the project root; logging at WARNING, so that stderr holds
    only what an operator must read."""
    return subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", *args],
        cwd=cwd,
        env={**os.environ, "TUTORFORGE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess, code: int) -> str:
    """The process exited with `code` and wrote exactly one line to stderr, no traceback; returns that line."""
    err = proc.stderr.strip()
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err
