"""A SkyPilot managed training job as plain commands: launch, status poll, bring the outputs back through DVC.

    launch_cmd("sky/sft.yaml", "sft", "gpu-a100")
    # ['.venv/opt/skypilot/bin/sky', 'jobs', 'launch', '-y', '-d', '-n', 'tutorforge-sft', '--env', 'PROFILE=gpu-a100',
    #  '--env', 'DVC_REMOTE_URL', '--secret', 'AWS_ACCESS_KEY_ID', ..., 'sky/sft.yaml']
    set_profile("params.yaml", "pretrain", "gpu-h100-x8")   # `tutorforge cloud set-profile pretrain gpu-h100-x8`
    upstream("sft")                                          # `tutorforge cloud upstream sft` (used by sky/train.sh)

Every step is a function returning the command it runs, so the `cloud_train` flow's dry run and the tests see
exactly what would happen; `execute` runs one (output into a logger) or, in a dry run, only logs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tutorforge.core.config import read_params, yaml_load
from tutorforge.orchestration.dvc_runner import dvc_exe, stage_order, stream, subprocess_env
from tutorforge.orchestration.skypilot import SKY_PYTHON, which_sky

DEFAULT_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN")
TERMINAL_OK = {"SUCCEEDED"}
TERMINAL_BAD = {"FAILED", "FAILED_SETUP", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER", "CANCELLED"}


def set_profile(params_path: str | Path, stage: str, profile: str) -> bool:
    """Set `<stage>.profile` in params.yaml by editing that one line (comments kept); True if it changed."""
    path = Path(params_path)
    text = path.read_text(encoding="utf-8")
    profiles = (read_params(path).get(stage) or {}).get("profiles") or {}
    if profile not in profiles:
        raise ValueError(f"{stage}.profiles has no {profile!r} (known: {sorted(profiles)})")
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


def task_profile(task_yaml: str | Path) -> str | None:
    """The GPU profile a task YAML selects by default (`envs.PROFILE`)."""
    task = yaml_load(Path(task_yaml).read_text(encoding="utf-8")) or {}
    return (task.get("envs") or {}).get("PROFILE")


def git_dirty(repo: str | Path) -> bool:
    """True when tracked files differ from the last commit (the cloud job would not run them)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True
    ).stdout
    return bool(out.strip())


def job_name(stage: str) -> str:
    return f"tutorforge-{stage}"


def launch_cmd(task_yaml: str, stage: str, profile: str, secrets: tuple[str, ...] = DEFAULT_SECRETS) -> list[str]:
    """`sky jobs launch`; secrets are named only (SkyPilot reads their values from the local environment)."""
    cmd = [
        which_sky(),
        "jobs",
        "launch",
        "-y",
        "-d",
        "-n",
        job_name(stage),
        "--env",
        f"PROFILE={profile}",
        "--env",
        "DVC_REMOTE_URL",
    ]
    for s in secrets:
        cmd += ["--secret", s]
    return cmd + [task_yaml]


def status_cmd(stage: str) -> list[str]:
    """One status poll through SkyPilot's Python SDK (its own venv): prints the newest job's status."""
    code = (
        "import json, sky\nfrom sky import jobs\n"
        "recs = sky.get(jobs.queue(refresh=True, skip_finished=False))\n"
        "get = lambda r, k: r.get(k) if isinstance(r, dict) else getattr(r, k, None)\n"
        f"mine = [r for r in recs if get(r, 'job_name') == {job_name(stage)!r}]\n"
        "mine.sort(key=lambda r: get(r, 'job_id') or 0)\n"
        "s = get(mine[-1], 'status') if mine else None\n"
        "print(json.dumps({'status': getattr(s, 'value', s)}))\n"
    )
    return [str(SKY_PYTHON), "-c", code]


def bring_back_cmds(stage: str, profile: str) -> list[list[str]]:
    """Select the job's profile locally, fetch the run cache, let DVC restore the stage from it."""
    return [
        [sys.executable, "-m", "tutorforge.cli", "cloud", "set-profile", stage, profile],
        [dvc_exe(), "pull", "--run-cache"],
        [dvc_exe(), "repro", "--pull", "--single-item", stage],
    ]


def execute(cmd: list[str], repo: Path, dry_run: bool, log: Any) -> list[str]:
    """Run a command (output into the logger `log`) or, in a dry run, only log it. Returns the output lines."""
    shown = " ".join(cmd if cmd[:2] != [str(SKY_PYTHON), "-c"] else cmd[:2] + ["<status poll>"])
    if dry_run:
        log.info("DRY-RUN would run: %s", shown)
        return []
    log.info("running: %s", shown)
    rc, lines = stream(cmd, repo, lambda ln: log.info("  %s", ln), subprocess_env())
    if rc:
        raise RuntimeError(f"`{shown}` failed with exit {rc}: " + "\n".join(lines[-10:]))
    return lines
