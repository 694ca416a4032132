"""Operator command lines the flows run (params [orchestration] label_pull, select, label_push; registry promote).

    command("tutorforge label pull")    # [sys.executable, '-m', 'tutorforge.cli', 'label', 'pull']
    command("python -m stages.select")  # [sys.executable, '-m', 'stages.select']
    label_studio_configured()           # None, or 'LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY not set'

`tutorforge` and `python` resolve to this interpreter, so a flow run from the project venv runs the venv's code
whatever PATH the Prefect worker has.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from tutorforge.orchestration.dvc_runner import stream, subprocess_env


def cli_argv(*args: str) -> list[str]:
    """`tutorforge <args>` as run by this interpreter."""
    return [sys.executable, "-m", "tutorforge.cli", *args]


def command(line: str) -> list[str]:
    """A params command line as argv; `tutorforge` / `python` become this interpreter's CLI / interpreter."""
    argv = shlex.split(line)
    if argv[:1] == ["tutorforge"]:
        return cli_argv(*argv[1:])
    if argv[:1] == ["python"]:
        return [sys.executable, *argv[1:]]
    return argv


def label_studio_configured() -> str | None:
    """None when Label Studio can be used, else the reason it cannot (names the missing variables)."""
    missing = [v for v in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY") if not os.environ.get(v)]
    return f"{' and '.join(missing)} not set" if missing else None


def run_logged(argv: list[str], repo: str, log: Any) -> tuple[int, list[str]]:
    """Run `argv` in `repo`, every output line into the logger `log`; returns (exit code, lines)."""
    log.info("running: %s", " ".join(argv))
    return stream(argv, repo, lambda ln: log.info("  %s", ln), subprocess_env())
