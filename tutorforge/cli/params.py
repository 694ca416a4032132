"""`tutorforge params …`: the whole params file checked the way every stage checks its own section.

$ tutorforge params check
params.yaml: ok (15 sections)
$ tutorforge params check --params experiments/lr.yaml
experiments/lr.yaml: sft.learning_rate: Input should be a valid number (got 'fast')      # exit 1
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Validate params files.")


@app.command()
def check(params: Annotated[str, typer.Option("--params", help="params file")] = "params.yaml") -> None:
    """Validate every section (unknown keys, types, ranges, every profile): one line ok, or the first problem."""
    from tutorforge.core.config import ParamsError, check_params

    try:
        configs = check_params(params)
    except ParamsError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    print(f"{params}: ok ({len(configs)} sections)")
