"""`tutorforge params …`: the whole params file checked the way every stage checks its own section.

$ tutorforge params check
params.yaml: ok (15 sections)
$ tutorforge params check --params experiments/lr.yaml
error: experiments/lr.yaml: sft.learning_rate: Input should be a valid number (got 'fast')      # exit 2
"""

from __future__ import annotations

from typing import Annotated

import typer

from tutorforge.cli.options import require_file

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Validate params files.")


@app.command()
def check(params: Annotated[str, typer.Option("--params", help="params file")] = "params.yaml") -> None:
    """Validate every section (unknown keys, types, ranges, every profile): one line ok, or the first problem."""
    from tutorforge.core.config import check_params

    configs = check_params(require_file(params, "--params"))  # a ParamsError is a configuration mistake: exit 2
    print(f"{params}: ok ({len(configs)} sections)")
