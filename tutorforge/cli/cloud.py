"""`tutorforge cloud …`: SkyPilot cloud training (offline checks, cost plan, launch) and the job-side helpers.

tutorforge cloud check sky/pretrain.yaml sky/sft.yaml # SkyPilot schema + our checks, offline
tutorforge cloud plan --yaml sky/pretrain.yaml --profile gpu-h100
tutorforge cloud launch --stage pretrain --dry-run    # the cloud_train flow (commands only with --dry-run)
tutorforge cloud set-profile pretrain gpu-h100-x8     # params.yaml: pretrain.profile = gpu-h100-x8 (one line)
tutorforge cloud upstream sft                         # stages upstream of sft, from dvc.yaml (sky/train.sh)
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="SkyPilot cloud training (plan first).")

ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]
RepoOpt = Annotated[str, typer.Option("--repo", help="repository root")]


def _fail(e: Exception) -> NoReturn:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(1)


@app.command()
def check(
    yamls: Annotated[list[str], typer.Argument(help="SkyPilot task YAMLs")], params: ParamsOpt = "params.yaml"
) -> None:
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


@app.command()
def plan(
    yaml: Annotated[str | None, typer.Option("--yaml", help="task YAML (default params cloud.yaml)")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="GPU profile (default: YAML envs.PROFILE)")] = None,
    params: ParamsOpt = "params.yaml",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Model size, tokens, GPU-hours and cost (on-demand and spot) before anything is launched."""
    from tutorforge.core.config import load_config
    from tutorforge.orchestration.skypilot import CloudConfig, plan_table
    from tutorforge.orchestration.skypilot import plan as make_plan

    p = make_plan(yaml or load_config(CloudConfig, "cloud", params).yaml, params, profile)
    print(json.dumps(p, indent=1) if as_json else plan_table(p))


@app.command()
def launch(
    stage: Annotated[str, typer.Option("--stage")] = "pretrain",
    yaml: Annotated[str | None, typer.Option("--yaml")] = None,
    profile: Annotated[str | None, typer.Option("--profile")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands, launch nothing")] = False,
    repo: RepoOpt = ".",
) -> None:
    """The cloud_train flow: preflight + plan, `sky jobs launch`, wait, bring the outputs back through DVC."""
    from flows.cloud_train import cloud_train

    res = cloud_train(stage=stage, task_yaml=yaml, profile=profile, repo=repo, dry_run=dry_run)
    print(json.dumps({k: v for k, v in res.items() if k != "plan"}, indent=1, default=str))


@app.command("set-profile")
def set_profile(
    stage: Annotated[str, typer.Argument(help="training stage, e.g. pretrain")],
    profile: Annotated[str, typer.Argument(help="one of <stage>.profiles, e.g. gpu-h100-x8")],
    params: ParamsOpt = "params.yaml",
) -> None:
    """Select a GPU profile: rewrite the one `profile:` line of the stage's section (comments kept)."""
    from tutorforge.orchestration.cloud_jobs import set_profile as edit

    try:
        changed = edit(params, stage, profile)
    except ValueError as e:
        _fail(e)
    print(f"{stage}.profile = {profile}" + ("" if changed else " (unchanged)"))


@app.command()
def upstream(
    stage: Annotated[str, typer.Argument(help="a stage of dvc.yaml")],
    dvc_yaml: Annotated[str, typer.Option("--dvc-yaml", help="dvc.yaml")] = "dvc.yaml",
) -> None:
    """Stages upstream of STAGE in DAG order, space-separated (what the job reproduces before training)."""
    from tutorforge.orchestration.cloud_jobs import upstream as ups

    try:
        print(" ".join(ups(stage, dvc_yaml)))
    except ValueError as e:
        _fail(e)
