"""`tutorforge cloud …`: SkyPilot cloud training (offline checks, cost plan, launch) and the job-side helpers.

tutorforge cloud check sky/pretrain.yaml sky/sft.yaml # SkyPilot schema + our checks, offline
tutorforge cloud plan --yaml sky/pretrain.yaml --profile gpu-h100
tutorforge cloud launch --stage pretrain --dry-run    # the cloud_train flow (commands only with --dry-run)
tutorforge cloud set-profile pretrain gpu-h100-x8     # params.yaml: pretrain.profile = gpu-h100-x8 (one line)
tutorforge cloud upstream sft                         # stages upstream of sft, from dvc.yaml (sky/train.sh)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from tutorforge.cli.errors import ConfigError, config_mistakes
from tutorforge.cli.options import ParamsOpt, RepoOpt, check_s3_uri, choice, require_file

app = typer.Typer(no_args_is_help=True, add_completion=False, help="SkyPilot cloud training (plan first).")

STAGES = ("pretrain", "sft")  # the training stages sky/<stage>.yaml runs
YamlFile = typer.Option("--yaml", help="task YAML", exists=True, dir_okay=False)


def _plan_errors() -> tuple[type[Exception], ...]:
    """What the plan/preflight code raises for a bad task YAML or params (a YAML syntax error, a value it can't use)."""
    import yaml

    return ValueError, yaml.YAMLError


@app.command()
def check(
    yamls: Annotated[list[Path], typer.Argument(help="SkyPilot task YAMLs", exists=True, dir_okay=False)],
    params: ParamsOpt = "params.yaml",
) -> None:
    """Validate task YAMLs offline: SkyPilot's schema plus what it misses (GPU names, s3://, stages, secrets)."""
    from tutorforge.orchestration.skypilot import check_task, sky_validate

    bad = False
    ok, out = sky_validate(yamls)
    print(out)
    bad |= not ok
    for y in yamls:
        with config_mistakes(*_plan_errors(), source=str(y)):
            problems = check_task(y, params)
        bad |= bool(problems)
        print(f"{y}: " + ("ok" if not problems else "\n  - " + "\n  - ".join(problems)))
    raise typer.Exit(1 if bad else 0)


@app.command()
def plan(
    yaml: Annotated[Path | None, YamlFile] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="GPU profile (default: YAML envs.PROFILE)")] = None,
    params: ParamsOpt = "params.yaml",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Model size, tokens, GPU-hours and cost (on-demand and spot) before anything is launched."""
    from tutorforge.core.config import load_config
    from tutorforge.orchestration.skypilot import CloudConfig, plan_table
    from tutorforge.orchestration.skypilot import plan as make_plan

    task_yaml = yaml or require_file(load_config(CloudConfig, "cloud", params).yaml, f"{params}: cloud.yaml")
    with config_mistakes(*_plan_errors(), source=str(task_yaml)):
        p = make_plan(task_yaml, params, profile)
    print(json.dumps(p, indent=1) if as_json else plan_table(p))


@app.command()
def launch(
    stage: Annotated[str, typer.Option("--stage", help=" | ".join(STAGES))] = "pretrain",
    yaml: Annotated[Path | None, typer.Option("--yaml", help="task YAML (default sky/<stage>.yaml)")] = None,
    profile: Annotated[str | None, typer.Option("--profile")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands, launch nothing")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """The cloud_train flow: preflight + plan, `sky jobs launch`, wait, bring the outputs back through DVC."""
    from tutorforge.orchestration.cloud_jobs import task_profile
    from tutorforge.orchestration.skypilot import check_task, stage_config

    choice("--stage", stage, STAGES)
    task_yaml = str(yaml or f"sky/{stage}.yaml")
    require_file(repo / task_yaml, "--yaml")
    params = require_file(repo / "params.yaml", "--repo")
    with config_mistakes(*_plan_errors(), source=task_yaml):
        problems = check_task(repo / task_yaml, params, repo / "dvc.yaml")
        profile = profile or task_profile(repo / task_yaml)
    if problems:
        raise ConfigError(f"{task_yaml}: " + "; ".join(problems))
    if not profile:
        raise ConfigError(f"--profile: none given and {task_yaml} sets no envs.PROFILE")
    stage_config(params, stage, profile)  # an unknown profile is a ParamsError naming the profiles there are
    if not dry_run:
        remote = os.environ.get("DVC_REMOTE_URL")
        if not remote:
            raise ConfigError("DVC_REMOTE_URL is not set: the s3://bucket/prefix DVC remote the job pulls and pushes")
        check_s3_uri(remote, "DVC_REMOTE_URL")
    from flows.cloud_train import cloud_train

    res = cloud_train(stage=stage, task_yaml=task_yaml, profile=profile, repo=str(repo), dry_run=dry_run)
    print(json.dumps({k: v for k, v in res.items() if k != "plan"}, indent=1, default=str))


@app.command("set-profile")
def set_profile(
    stage: Annotated[str, typer.Argument(help="training stage, e.g. pretrain")],
    profile: Annotated[str, typer.Argument(help="one of <stage>.profiles, e.g. gpu-h100-x8")],
    params: ParamsOpt = "params.yaml",
) -> None:
    """Select a GPU profile: rewrite the one `profile:` line of the stage's section (comments kept)."""
    from tutorforge.orchestration.cloud_jobs import set_profile as edit

    require_file(params, "--params")  # it is edited: the default params.yaml must be there too
    with config_mistakes(ValueError):
        changed = edit(params, stage, profile)
    print(f"{stage}.profile = {profile}" + ("" if changed else " (unchanged)"))


@app.command()
def upstream(
    stage: Annotated[str, typer.Argument(help="a stage of dvc.yaml")],
    dvc_yaml: Annotated[Path, typer.Option("--dvc-yaml", help="dvc.yaml", exists=True, dir_okay=False)] = Path(
        "dvc.yaml"
    ),
) -> None:
    """Stages upstream of STAGE in DAG order, space-separated (what the job reproduces before training)."""
    from tutorforge.orchestration.cloud_jobs import upstream as ups

    with config_mistakes(*_plan_errors(), source="STAGE"):
        print(" ".join(ups(stage, dvc_yaml)))
