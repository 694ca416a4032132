"""`cloud_train` flow: a training stage on SkyPilot (managed spot job), then its outputs back into the local DVC pipeline.

    python -m flows.cloud_train --stage pretrain --dry-run           # prints every command, launches nothing
    python -m flows.cloud_train --stage pretrain --profile gpu-h100   # real: needs AWS credentials + an S3 DVC remote
    tutorforge cloud launch --stage pretrain --dry-run                # the same through the CLI

Steps (the commands come from tutorforge/orchestration/cloud_jobs.py, so a dry run and the tests see exactly what
would happen):
1. preflight: the YAML passes SkyPilot's schema and our checks (tutorforge/orchestration/skypilot.py), the git tree
   is clean (the job runs the committed code), the plan (size/tokens/GPU-hours/cost) is logged;
2. launch: `sky jobs launch -y -d -n <name> --env PROFILE=<profile> --secret ... sky/<stage>.yaml`; the job runs
   `bash sky/train.sh <stage> <profile>`: `dvc repro --pull` upstream, torchrun the stage, `dvc commit` +
   `dvc push --run-cache`;
3. wait: polls the managed job's status until it is terminal;
4. bring back: select the same profile locally (`tutorforge cloud set-profile`), `dvc pull --run-cache`,
   `dvc repro --pull --single-item <stage>`: DVC finds the stage in the run cache (same deps + params + cmd) and
   checks the trained outputs out instead of training again; evaluate -> register then continue locally
   (`python -m flows.rebuild`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from tutorforge.orchestration.cloud_jobs import (
    TERMINAL_BAD,
    TERMINAL_OK,
    bring_back_cmds,
    execute,
    git_dirty,
    job_name,
    launch_cmd,
    status_cmd,
    task_profile,
)
from tutorforge.orchestration.skypilot import check_task, plan, plan_table, sky_validate


@task
def preflight(repo: str, task_yaml: str, profile: str, dry_run: bool) -> dict[str, Any]:
    log = get_run_logger()
    root = Path(repo)
    problems = check_task(root / task_yaml, root / "params.yaml", root / "dvc.yaml")
    ok, out = sky_validate([root / task_yaml])
    if not ok:
        problems.append(f"SkyPilot rejects {task_yaml}: {out[-500:]}")
    if problems:
        raise ValueError(f"{task_yaml}: " + "; ".join(problems))
    if git_dirty(root) and not dry_run:
        raise RuntimeError("commit first: the cloud job runs the committed code (`git status` shows changes)")
    if not os.environ.get("DVC_REMOTE_URL") and not dry_run:
        raise RuntimeError("set DVC_REMOTE_URL=s3://bucket/prefix (the DVC remote the job pulls from and pushes to)")
    p = plan(root / task_yaml, root / "params.yaml", profile)
    table = plan_table(p)
    log.info("plan:\n%s", table)
    create_markdown_artifact(f"```\n{table}\n```", key=f"cloud-plan-{p['stage']}", description="cloud training plan")
    return p


@task
def launch(repo: str, task_yaml: str, stage: str, profile: str, dry_run: bool) -> list[str]:
    cmd = launch_cmd(task_yaml, stage, profile)
    execute(cmd, Path(repo), dry_run, get_run_logger())
    return cmd


@task
def wait(repo: str, stage: str, dry_run: bool, poll_s: float, timeout_s: float) -> str:
    log = get_run_logger()
    if dry_run:
        execute(status_cmd(stage), Path(repo), True, log)
        return "SUCCEEDED (dry run)"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        lines = execute(status_cmd(stage), Path(repo), False, log)
        status = json.loads(lines[-1])["status"] if lines else None
        log.info("managed job %s: %s", job_name(stage), status)
        if status in TERMINAL_OK:
            return status
        if status in TERMINAL_BAD:
            raise RuntimeError(f"managed job {job_name(stage)} ended {status}: `sky jobs logs -n {job_name(stage)}`")
        time.sleep(poll_s)
    raise TimeoutError(f"managed job {job_name(stage)} not finished after {timeout_s:.0f}s")


@task
def bring_back(repo: str, stage: str, profile: str, dry_run: bool) -> list[list[str]]:
    cmds = bring_back_cmds(stage, profile)
    for c in cmds:
        execute(c, Path(repo), dry_run, get_run_logger())
    return cmds


@flow(name="cloud_train", log_prints=True)
def cloud_train(
    stage: str = "pretrain",
    task_yaml: str | None = None,
    profile: str | None = None,
    repo: str = ".",
    dry_run: bool = False,
    poll_s: float = 60.0,
    timeout_s: float = 3 * 86400.0,
) -> dict[str, Any]:
    """Launch `stage` on SkyPilot, wait, bring the outputs back through DVC; returns the plan and the commands."""
    task_yaml = task_yaml or f"sky/{stage}.yaml"
    root = Path(repo).resolve()
    profile = profile or task_profile(root / task_yaml)
    if not profile:
        raise ValueError(f"no profile: pass --profile or set envs.PROFILE in {task_yaml}")
    p = preflight(str(root), task_yaml, profile, dry_run)
    launched = launch(str(root), task_yaml, stage, profile, dry_run)
    status = wait(str(root), stage, dry_run, poll_s, timeout_s)
    back = bring_back(str(root), stage, profile, dry_run)
    return {"plan": p, "launch": launched, "status": status, "bring_back": back, "dry_run": dry_run}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--stage", default="pretrain", choices=["pretrain", "sft"])
    ap.add_argument("--yaml", dest="task_yaml")
    ap.add_argument("--profile")
    ap.add_argument("--repo", default=".")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    return cloud_train(stage=a.stage, task_yaml=a.task_yaml, profile=a.profile, repo=a.repo, dry_run=a.dry_run)


if __name__ == "__main__":
    main()
