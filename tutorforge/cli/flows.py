"""`tutorforge flows …` (Prefect: run, register, serve) and `tutorforge cloud …` (SkyPilot: check, plan, launch).

    tutorforge flows run rebuild [--target dataset]       # one run now (PREFECT_API_URL set: visible in the UI)
    tutorforge flows run retrain
    tutorforge flows register                             # deployments rebuild + retrain with their crons
    tutorforge flows serve                                # register + execute scheduled runs until Ctrl-C
    tutorforge cloud check sky/pretrain.yaml sky/sft.yaml # SkyPilot schema + our checks, offline
    tutorforge cloud plan --yaml sky/pretrain.yaml --profile gpu-h100
    tutorforge cloud launch --stage pretrain --dry-run    # the cloud_train flow (commands only with --dry-run)
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Prefect flows and scheduled deployments.")
cloud_app = typer.Typer(no_args_is_help=True, add_completion=False, help="SkyPilot cloud training (plan first).")

ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]
RepoOpt = Annotated[str, typer.Option("--repo", help="repository root")]


@app.command("run")
def run(name: Annotated[str, typer.Argument(help="rebuild | retrain")],
        target: Annotated[list[str] | None, typer.Option("--target", help="rebuild: stage (+ upstream)")] = None,
        repo: RepoOpt = ".", params: ParamsOpt = "params.yaml") -> None:
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


@cloud_app.command()
def check(yamls: Annotated[list[str], typer.Argument(help="SkyPilot task YAMLs")],
          params: ParamsOpt = "params.yaml") -> None:
    """Validate task YAMLs offline: SkyPilot's schema plus what it misses (GPU names, s3://, stages, secrets)."""
    from tutorforge.orchestration.skypilot import check_task, sky_validate

    bad = False
    ok, out = sky_validate(yamls)
    print(out)
    bad |= not ok
    for y in yamls:
        problems = check_task(y, params)
        bad |= bool(problems)
        print(f"{y}: " + ("ok" if not problems else "\n  - " + "\n  - ".join(problems)))
    raise typer.Exit(1 if bad else 0)


@cloud_app.command()
def plan(yaml: Annotated[str | None, typer.Option("--yaml", help="task YAML (default params cloud.yaml)")] = None,
         profile: Annotated[str | None, typer.Option("--profile", help="GPU profile (default: YAML envs.PROFILE)")] = None,
         params: ParamsOpt = "params.yaml", as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Model size, tokens, GPU-hours and cost (on-demand and spot) before anything is launched."""
    from tutorforge.core.config import load_config
    from tutorforge.orchestration.skypilot import CloudConfig, plan_table
    from tutorforge.orchestration.skypilot import plan as make_plan

    p = make_plan(yaml or load_config(CloudConfig, "cloud", params).yaml, params, profile)
    print(json.dumps(p, indent=1) if as_json else plan_table(p))


@cloud_app.command()
def launch(stage: Annotated[str, typer.Option("--stage")] = "pretrain",
           yaml: Annotated[str | None, typer.Option("--yaml")] = None,
           profile: Annotated[str | None, typer.Option("--profile")] = None,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands, launch nothing")] = False,
           repo: RepoOpt = ".") -> None:
    """The cloud_train flow: preflight + plan, `sky jobs launch`, wait, bring the outputs back through DVC."""
    from flows.cloud_train import cloud_train

    res = cloud_train(stage=stage, task_yaml=yaml, profile=profile, repo=repo, dry_run=dry_run)
    print(json.dumps({k: v for k, v in res.items() if k != "plan"}, indent=1, default=str))
