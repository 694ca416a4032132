"""`cloud_train` flow: a training stage on SkyPilot (managed spot job), then its outputs back into the local DVC pipeline.

    python -m flows.cloud_train --stage pretrain --dry-run           # prints every command, launches nothing
    python -m flows.cloud_train --stage pretrain --profile gpu-h100   # real: needs AWS credentials + an S3 DVC remote
    python -m flows.cloud_train set-profile pretrain gpu-h100         # params.yaml: pretrain.profile = gpu-h100
    python -m flows.cloud_train upstream sft                          # stages upstream of sft (used by sky/train.sh)

Steps (each a function returning the command it runs, so a dry run and the tests see exactly what would happen):
1. preflight: the YAML passes SkyPilot's schema and our checks (tutorforge/orchestration/skypilot.py), the git tree is clean (the job
   runs the committed code), the plan (size/tokens/GPU-hours/cost) is logged;
2. launch: `sky jobs launch -y -d -n <name> --env PROFILE=<profile> --secret ... sky/<stage>.yaml`; the job runs
   `bash sky/train.sh <stage> <profile>`: `dvc repro --pull` upstream, torchrun the stage, `dvc commit` +
   `dvc push --run-cache`;
3. wait: polls the managed job's status until it is terminal;
4. bring back: select the same profile locally, `dvc pull --run-cache`, `dvc repro --pull --single-item <stage>`:
   DVC finds the stage in the run cache (same deps + params + cmd) and checks the trained outputs out instead of
   training again; evaluate -> register then continue locally (`python -m flows.rebuild`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from tutorforge.orchestration.dvc_runner import dvc_exe, stage_order, stream, subprocess_env
from tutorforge.orchestration.skypilot import SKY_PYTHON, check_task, plan, plan_table, sky_validate, which_sky

DEFAULT_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN")
TERMINAL_OK = {"SUCCEEDED"}
TERMINAL_BAD = {"FAILED", "FAILED_SETUP", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER", "CANCELLED"}


def set_profile(params_path: str | Path, stage: str, profile: str) -> bool:
    """Set `<stage>.profile` in params.yaml by editing that one line (comments kept); True if it changed."""
    import yaml

    path = Path(params_path)
    text = path.read_text(encoding="utf-8")
    sec = (yaml.safe_load(text) or {}).get(stage) or {}
    if profile not in (sec.get("profiles") or {}):
        raise ValueError(f"{stage}.profiles has no {profile!r} (known: {sorted(sec.get('profiles') or {})})")
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith(f"{stage}:")), None)
    if start is None:
        raise ValueError(f"{params_path}: no top-level [{stage}] section")
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and not lines[i].startswith((" ", "#")):
            break
        m = re.match(r"^(\s+profile:\s*)(\S+)(.*)$", lines[i].rstrip("\n"))
        if m and len(m.group(1)) - len(m.group(1).lstrip()) == 2:
            if m.group(2) == profile:
                return False
            lines[i] = f"{m.group(1)}{profile}{m.group(3)}\n"
            from tutorforge.core.io import atomic_open

            with atomic_open(path, "w") as f:
                f.write("".join(lines))
            return True
    raise ValueError(f"{params_path}: [{stage}] has no `profile:` line")


def upstream(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """Stages upstream of `stage` in DAG order (from dvc.yaml)."""
    return [s for s in stage_order(dvc_yaml, [stage]) if s != stage]


def job_name(stage: str) -> str:
    return f"tutorforge-{stage}"


def launch_cmd(task_yaml: str, stage: str, profile: str, secrets: tuple[str, ...] = DEFAULT_SECRETS) -> list[str]:
    """`sky jobs launch`; secrets are named only (SkyPilot reads their values from the local environment)."""
    cmd = [which_sky(), "jobs", "launch", "-y", "-d", "-n", job_name(stage), "--env", f"PROFILE={profile}",
           "--env", "DVC_REMOTE_URL"]
    for s in secrets:
        cmd += ["--secret", s]
    return cmd + [task_yaml]


def status_cmd(stage: str) -> list[str]:
    """One status poll through SkyPilot's Python SDK (its own venv): prints the newest job's status."""
    code = ("import json, sky\nfrom sky import jobs\n"
            "recs = sky.get(jobs.queue(refresh=True, skip_finished=False))\n"
            "get = lambda r, k: r.get(k) if isinstance(r, dict) else getattr(r, k, None)\n"
            f"mine = [r for r in recs if get(r, 'job_name') == {job_name(stage)!r}]\n"
            "mine.sort(key=lambda r: get(r, 'job_id') or 0)\n"
            "s = get(mine[-1], 'status') if mine else None\n"
            "print(json.dumps({'status': getattr(s, 'value', s)}))\n")
    return [str(SKY_PYTHON), "-c", code]


def bring_back_cmds(stage: str, profile: str) -> list[list[str]]:
    """Select the job's profile locally, fetch the run cache, let DVC restore the stage from it."""
    return [[sys.executable, "-m", "flows.cloud_train", "set-profile", stage, profile],
            [dvc_exe(), "pull", "--run-cache"],
            [dvc_exe(), "repro", "--pull", "--single-item", stage]]


def execute(cmd: list[str], repo: Path, dry_run: bool, log: Any) -> list[str]:
    """Run a command (output into the log) or, in a dry run, only log it. Returns the output lines."""
    shown = " ".join(cmd if cmd[:2] != [str(SKY_PYTHON), "-c"] else cmd[:2] + ["<status poll>"])
    if dry_run:
        log.info("DRY-RUN would run: %s", shown)
        return []
    log.info("running: %s", shown)
    rc, lines = stream(cmd, repo, lambda ln: log.info("  %s", ln), subprocess_env())
    if rc:
        raise RuntimeError(f"`{shown}` failed with exit {rc}: " + "\n".join(lines[-10:]))
    return lines


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
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True).stdout.strip()
    if dirty and not dry_run:
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
def cloud_train(stage: str = "pretrain", task_yaml: str | None = None, profile: str | None = None,
                repo: str = ".", dry_run: bool = False, poll_s: float = 60.0, timeout_s: float = 3 * 86400.0
                ) -> dict[str, Any]:
    """Launch `stage` on SkyPilot, wait, bring the outputs back through DVC; returns the plan and the commands."""
    import yaml

    task_yaml = task_yaml or f"sky/{stage}.yaml"
    root = Path(repo).resolve()
    profile = profile or (yaml.safe_load((root / task_yaml).read_text()).get("envs") or {}).get("PROFILE")
    if not profile:
        raise ValueError(f"no profile: pass --profile or set envs.PROFILE in {task_yaml}")
    p = preflight(str(root), task_yaml, profile, dry_run)
    launched = launch(str(root), task_yaml, stage, profile, dry_run)
    status = wait(str(root), stage, dry_run, poll_s, timeout_s)
    back = bring_back(str(root), stage, profile, dry_run)
    return {"plan": p, "launch": launched, "status": status, "bring_back": back, "dry_run": dry_run}


def main(argv: list[str] | None = None) -> Any:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["set-profile"]:
        stage, profile = argv[1], argv[2]
        changed = set_profile("params.yaml", stage, profile)
        print(f"{stage}.profile = {profile}" + ("" if changed else " (unchanged)"))
        return 0
    if argv[:1] == ["upstream"]:
        print(" ".join(upstream(argv[1])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", default="pretrain", choices=["pretrain", "sft"])
    ap.add_argument("--yaml", dest="task_yaml")
    ap.add_argument("--profile")
    ap.add_argument("--repo", default=".")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    return cloud_train(stage=a.stage, task_yaml=a.task_yaml, profile=a.profile, repo=a.repo, dry_run=a.dry_run)


if __name__ == "__main__":
    res = main()
    raise SystemExit(res if isinstance(res, int) else 0)
