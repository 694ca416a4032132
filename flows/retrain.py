"""`retrain` flow: Label Studio pull -> rebuild (… evaluate -> register) -> promote if the gate passes -> select + push.

    python -m flows.retrain                      # without LABEL_STUDIO_URL/_API_KEY the Label Studio steps are skipped
    LABEL_STUDIO_URL=http://127.0.0.1:8080 LABEL_STUDIO_API_KEY=... python -m flows.retrain
    tutorforge flows serve                       # scheduled weekly (params orchestration.retrain_cron)

Every step calls existing code: the Label Studio commands in params [orchestration] (label_pull, select,
label_push), the `rebuild` flow (DVC; `register` is a DVC stage), and `tutorforge registry promote` (the gate of
params [register].gate). A run-summary artifact says what changed: new annotations, metric deltas against the
previous run's metrics.json, the version registered, promoted or not (and why), what was pushed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.rebuild import rebuild
from tutorforge.core.config import load_config
from tutorforge.orchestration.commands import cli_argv, command, label_studio_configured, run_logged
from tutorforge.orchestration.run_summary import annotation_count, metric_deltas, metric_values, summary_markdown
from tutorforge.orchestration.settings import OrchestrationConfig


@task
def pull_annotations(repo: str, cmd: str) -> dict[str, Any]:
    log = get_run_logger()
    why = label_studio_configured()
    before = annotation_count(Path(repo))
    if why:
        log.info("Label Studio pull skipped: %s (using the annotation snapshots in data/annotations)", why)
        return {"skipped": why, "annotations": before, "new": 0}
    rc, lines = run_logged(command(cmd), repo, log)
    if rc:
        raise RuntimeError(f"Label Studio pull failed (exit {rc}): " + "\n".join(lines[-10:]))
    after = annotation_count(Path(repo))
    return {"skipped": None, "annotations": after, "new": after - before}


@task
def promote(repo: str, registration: str, enabled: bool) -> dict[str, Any]:
    log = get_run_logger()
    reg_path = Path(repo) / registration
    if not reg_path.exists():
        return {"promoted": False, "reason": f"{registration} missing (no register stage run)"}
    rec = json.loads(reg_path.read_text(encoding="utf-8"))
    version = rec.get("version")
    if not enabled:
        return {"promoted": False, "version": version, "reason": "orchestration.promote is false"}
    if rec.get("production") == version:
        return {"promoted": False, "version": version, "reason": f"{version} already production"}
    rc, lines = run_logged(cli_argv("registry", "promote", str(version)), repo, log)
    reasons = [ln.strip(" -") for ln in lines if ln.strip().startswith("-")]
    if rc == 0:
        return {"promoted": True, "version": version, "reason": "; ".join(reasons) or "gate passed"}
    if any("refused by the gate" in ln for ln in lines):
        return {"promoted": False, "version": version, "reason": "; ".join(reasons) or "gate refused"}
    raise RuntimeError(f"promote {version} failed (exit {rc}): " + "\n".join(lines[-10:]))


@task
def select_and_push(repo: str, select_cmd: str, push_cmd: str) -> dict[str, Any]:
    log = get_run_logger()
    why = label_studio_configured()
    if why:
        log.info("active-learning selection + push skipped: %s", why)
        return {"skipped": why}
    for name, line in (("select", select_cmd), ("push", push_cmd)):
        if not line:
            continue
        rc, lines = run_logged(command(line), repo, log)
        if rc:
            raise RuntimeError(f"{name} failed (exit {rc}): " + "\n".join(lines[-10:]))
    return {"skipped": None, "pushed": True}


@flow(name="retrain", log_prints=True)
def retrain(repo: str = ".", params: str = "params.yaml", retries: int | None = None) -> dict[str, Any]:
    """Pull new annotations, rebuild, register, promote if the gate passes, push the next batch; returns a summary."""
    root = str(Path(repo).resolve())
    cfg = load_config(OrchestrationConfig, "orchestration", Path(root) / params)
    before = metric_values(Path(root) / cfg.metrics)
    pulled = pull_annotations(root, cfg.label_pull)
    stages = rebuild(repo=root, params=params, retries=retries)
    deltas = metric_deltas(before, metric_values(Path(root) / cfg.metrics))
    promo = promote(root, cfg.registration, cfg.promote)
    pushed = select_and_push(root, cfg.select, cfg.label_push)
    md = summary_markdown(pulled, stages, deltas, promo, pushed)
    create_markdown_artifact(md, key="tutorforge-retrain-summary", description="what this retrain run changed")
    return {"annotations": pulled, "stages": stages, "metric_deltas": deltas, "promotion": promo, "push": pushed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--repo", default=".")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--retries", type=int)
    a = ap.parse_args(argv)
    return retrain(repo=a.repo, params=a.params, retries=a.retries)


if __name__ == "__main__":
    main()
