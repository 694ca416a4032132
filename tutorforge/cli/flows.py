"""`tutorforge flows …`: the Prefect flows (run now, register the scheduled deployments, serve them).

tutorforge flows run rebuild [--target dataset]       # one run now (PREFECT_API_URL set: visible in the UI)
tutorforge flows run retrain
tutorforge flows register                             # deployments rebuild + retrain with their crons
tutorforge flows serve                                # register + execute scheduled runs until Ctrl-C
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tutorforge.cli.errors import ConfigError, config_mistakes
from tutorforge.cli.options import RepoOpt, check_http_url, choice, require_file

if TYPE_CHECKING:
    from tutorforge.orchestration.settings import OrchestrationConfig

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Prefect flows and scheduled deployments.")

FLOWS = ("rebuild", "retrain")
ParamsOpt = Annotated[str, typer.Option("--params", help="params file, relative to --repo")]


def _settings(
    repo: Path, params: str, targets: list[str] | None = None, need_server: bool = False
) -> OrchestrationConfig:
    """params [orchestration] of the repo, with what the flows read checked before any flow starts: dvc.yaml and the
    targets in it, the params file, the Prefect API URL (required by `need_server`: deployments on a temporary
    server would vanish with it)."""
    from tutorforge.core.config import load_config
    from tutorforge.orchestration.dvc_runner import stage_order
    from tutorforge.orchestration.settings import OrchestrationConfig

    require_file(repo / "dvc.yaml", "--repo")
    cfg = load_config(OrchestrationConfig, "orchestration", require_file(repo / params, "--params"))
    with config_mistakes(ValueError, source="--target" if targets else str(repo / "dvc.yaml")):
        stage_order(repo / "dvc.yaml", targets)
    from prefect.settings import get_current_settings  # after the cheap checks: importing Prefect takes seconds

    api_url = get_current_settings().api.url
    if api_url:
        check_http_url(api_url, "PREFECT_API_URL")
    elif need_server:
        raise ConfigError(
            "PREFECT_API_URL is not set: the Prefect server to register with, e.g. http://127.0.0.1:4200/api"
        )
    return cfg


def _check_schedules(cfg: OrchestrationConfig, params: str) -> None:
    """The crons and time zone the deployments get, checked the way Prefect will read them."""
    import zoneinfo

    from prefect.schedules import Cron

    try:
        zoneinfo.ZoneInfo(cfg.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{params}: orchestration.timezone: {cfg.timezone!r} is not a time zone") from None
    for key in ("rebuild_cron", "retrain_cron"):
        cron = getattr(cfg, key)
        if cron:
            with config_mistakes(ValueError, source=f"{params}: orchestration.{key}"):
                Cron(cron, timezone=cfg.timezone)


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help=" | ".join(FLOWS))],
    target: Annotated[list[str] | None, typer.Option("--target", help="rebuild: stage (+ upstream)")] = None,
    repo: RepoOpt = Path("."),
    params: ParamsOpt = "params.yaml",
) -> None:
    """Run a flow now."""
    choice("NAME", name, FLOWS)
    if target and name != "rebuild":
        raise ConfigError(f"--target: only the rebuild flow takes targets, not {name}")
    _settings(repo, params, target or None)
    if name == "rebuild":
        from flows.rebuild import rebuild

        print(json.dumps(rebuild(repo=str(repo), targets=target or None, params=params), indent=1))
    else:
        from flows.retrain import retrain

        print(json.dumps(retrain(repo=str(repo), params=params), indent=1, default=str))


@app.command()
def register(repo: RepoOpt = Path("."), params: ParamsOpt = "params.yaml") -> None:
    """Create/update the scheduled deployments on PREFECT_API_URL's server."""
    _check_schedules(_settings(repo, params, need_server=True), params)
    from flows.deploy import register as reg

    for name, dep_id in reg(str(repo), params).items():
        print(f"deployment {name}: {dep_id}")


@app.command()
def serve(repo: RepoOpt = Path("."), params: ParamsOpt = "params.yaml") -> None:
    """Register the deployments and run their schedules in this process (Ctrl-C stops)."""
    _check_schedules(_settings(repo, params, need_server=True), params)
    from flows.deploy import serve as srv

    srv(str(repo), params)
