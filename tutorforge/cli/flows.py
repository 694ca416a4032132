"""`tutorforge flows …`: the Prefect flows (run now, register the scheduled deployments, serve them).

tutorforge flows run rebuild [--target dataset]       # one run now (PREFECT_API_URL set: visible in the UI)
tutorforge flows run retrain
tutorforge flows register                             # deployments rebuild + retrain with their crons
tutorforge flows serve                                # register + execute scheduled runs until Ctrl-C
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Prefect flows and scheduled deployments.")

ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]
RepoOpt = Annotated[str, typer.Option("--repo", help="repository root")]


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="rebuild | retrain")],
    target: Annotated[list[str] | None, typer.Option("--target", help="rebuild: stage (+ upstream)")] = None,
    repo: RepoOpt = ".",
    params: ParamsOpt = "params.yaml",
) -> None:
    """Run a flow now."""
    if name == "rebuild":
        from flows.rebuild import rebuild

        print(json.dumps(rebuild(repo=repo, targets=target or None, params=params), indent=1))
    elif name == "retrain":
        from flows.retrain import retrain

        print(json.dumps(retrain(repo=repo, params=params), indent=1, default=str))
    else:
        raise typer.BadParameter("rebuild | retrain")


@app.command()
def register(repo: RepoOpt = ".", params: ParamsOpt = "params.yaml") -> None:
    """Create/update the scheduled deployments on PREFECT_API_URL's server."""
    from flows.deploy import register as reg

    for name, dep_id in reg(repo, params).items():
        print(f"deployment {name}: {dep_id}")


@app.command()
def serve(repo: RepoOpt = ".", params: ParamsOpt = "params.yaml") -> None:
    """Register the deployments and run their schedules in this process (Ctrl-C stops)."""
    from flows.deploy import serve as srv

    srv(repo, params)
