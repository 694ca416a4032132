"""The one command-line shape of every DVC stage: `python -m stages.<name> [-p params.yaml] [-S key=value ...]`.

    python -m stages.ingest -S ingest.input=some/pdfs -S ingest.output=/tmp/ingest -S ingest.workers=1
    python -m stages.sft -p experiments/lr.yaml -S sft.learning_rate=3e-4      # same keys as `dvc exp run -S`

`stage_main(Config, run, argv)` loads and validates the stage's params section (core.config) BEFORE `run(cfg)` is
called, so a bad params file exits 2 with one line naming the file and the key, and no output or checkpoint is
touched. A `StageError` raised by `run` (bad input data, a missing upstream output) exits 1 with its one-line
message; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tutorforge.core.config import DEFAULT_PARAMS, ParamsError, load_config

C = TypeVar("C")


class StageError(RuntimeError):
    """A stage cannot run on its inputs; the message is one line for the operator (nothing was written)."""


def stage_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser every stage shares."""
    first = (doc or "").strip().split("\n\n")[0]
    ap = argparse.ArgumentParser(
        prog=prog,
        description=first,
        epilog="KEY is a full params path, as in `dvc exp run -S` (e.g. sft.max_steps=20); "
        "VALUE is YAML (true, 1e-4, [a, b], '').",
    )
    ap.add_argument("-p", "--params", default=str(DEFAULT_PARAMS), help="params file (default: %(default)s)")
    ap.add_argument(
        "-S",
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one param (repeatable)",
    )
    return ap


def load_stage_config(cls: type[C], section: str, argv: Sequence[str] | None = None, doc: str | None = None) -> C:
    """Parse the stage arguments and return the validated config (raises ParamsError)."""
    args = stage_parser(f"python -m stages.{section}", doc).parse_args(list(argv) if argv is not None else None)
    return load_config(cls, section, args.params, args.overrides)


def stage_main(
    cls: type[C], section: str, run: Callable[[C], Any], argv: Sequence[str] | None = None, doc: str | None = None
) -> int:
    """Validate params, then `run(cfg)`; returns the process exit code (0 ok, 1 StageError, 2 bad params)."""
    try:
        cfg = load_stage_config(cls, section, argv, doc)
    except ParamsError as e:
        print(f"{section}: error: {e}", file=sys.stderr)
        return 2
    try:
        run(cfg)
    except StageError as e:
        print(f"{section}: error: {e}", file=sys.stderr)
        return 1
    return 0
