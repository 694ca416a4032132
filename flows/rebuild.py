"""`rebuild` flow: every DVC stage as one Prefect task, in the DAG order read from dvc.yaml.

    python -m flows.rebuild                          # whole pipeline in this repo (DVC skips unchanged stages)
    python -m flows.rebuild --target dataset         # dataset and everything upstream of it
    tutorforge flows run rebuild                     # the same through the CLI
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.rebuild   # runs show up in the Prefect UI

Each task runs `dvc repro --single-item <stage>` (never the stage's code itself), streams the stage's output line
by line into the Prefect run logger, waits for DVC's repo lock while another `dvc` process holds it
(`orchestration.lock_timeout_s`), and returns ran | skipped | cached, so a re-run visibly resumes from DVC's cache.
A failing stage fails the flow with the stage named. At the end the evaluation report (report.md) and the flattened
metrics.json are published as Prefect artifacts, plus a table of what each stage did.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tutorforge.core.config import load_config
from tutorforge.orchestration.dvc_runner import run_stage, stage_order


@dataclass
class OrchestrationConfig:
    rebuild_cron: str | None = "0 2 * * *"
    """Cron of the scheduled `rebuild` deployment (null = no schedule)."""
    retrain_cron: str | None = "0 3 * * 1"
    """Cron of the scheduled `retrain` deployment (Mondays 03:00)."""
    timezone: str = "UTC"
    """Time zone of both crons."""
    retries: int = 1
    """Prefect retries per stage task (a transient failure: OOM kill, network for `dvc pull`)."""
    retry_delay_s: float = 30.0
    """Seconds between retries."""
    lock_timeout_s: float = 1800.0
    """How long a stage waits for another DVC process's repo lock before failing."""
    lock_poll_s: float = 5.0
    """Seconds between lock polls."""
    label_pull: str = "tutorforge label pull"
    """Command that snapshots Label Studio exports into data/annotations (run only when Label Studio is configured)."""
    select: str = ""
    """Extra selection command before the push ("" = none: the `select` DVC stage already ran in the rebuild)."""
    label_push: str = "tutorforge label select-push"
    """Command that pushes the selected batch to Label Studio."""
    promote: bool = True
    """retrain: move `production` to the newly registered version when the promotion gate passes."""
    report: str = "artifacts/evaluate/report.md"
    """Evaluation report published as a markdown artifact."""
    metrics: str = "artifacts/evaluate/metrics.json"
    """Metrics published (flattened) as a table artifact."""
    registration: str = "artifacts/register/registration.json"
    """register stage output (version just registered)."""


def orchestration_config(repo: str | Path = ".", params: str = "params.yaml", **overrides: Any) -> OrchestrationConfig:
    return load_config(OrchestrationConfig, "orchestration", Path(repo) / params, **overrides)


@task(task_run_name="dvc-{stage}")
def dvc_stage(stage: str, repo: str, lock_timeout_s: float, lock_poll_s: float) -> str:
    """One DVC stage; its output goes line by line into the run log. Returns ran | skipped | cached."""
    logger = get_run_logger()
    logger.info("stage %s: dvc repro --single-item %s (in %s)", stage, stage, repo)
    res = run_stage(stage, repo, lambda line: logger.info("[%s] %s", stage, line), lock_timeout_s, lock_poll_s)
    logger.info("stage %s: %s in %.1fs%s", stage, res.status, res.seconds,
                f" after {res.lock_waits} lock wait(s)" if res.lock_waits else "")
    return res.status


def flatten_metrics(d: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """metrics.json -> [{metric: "sft.answer_loss", value: 1.23}, ...] (numbers, strings and bools kept)."""
    rows: list[dict[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += flatten_metrics(v, f"{prefix}{k}.")
        elif isinstance(v, str | int | float | bool) or v is None:
            rows.append({"metric": f"{prefix}{k}", "value": v})
    return rows


def publish_artifacts(repo: Path, cfg: OrchestrationConfig, statuses: dict[str, str]) -> list[str]:
    """Stage table, evaluation report and metrics table as Prefect artifacts; returns the keys created."""
    import json

    keys = ["tutorforge-rebuild-stages"]
    create_table_artifact([{"stage": s, "status": st} for s, st in statuses.items()], key=keys[0],
                          description="What each DVC stage did in this run (ran / skipped = unchanged / cached)")
    report, metrics = repo / cfg.report, repo / cfg.metrics
    if report.exists():
        create_markdown_artifact(report.read_text(encoding="utf-8"), key="tutorforge-eval-report",
                                 description=f"{cfg.report} from the evaluate stage")
        keys.append("tutorforge-eval-report")
    if metrics.exists():
        rows = flatten_metrics(json.loads(metrics.read_text(encoding="utf-8")))
        create_table_artifact(rows, key="tutorforge-metrics", description=f"{cfg.metrics}, flattened")
        keys.append("tutorforge-metrics")
    return keys


@flow(name="rebuild", log_prints=True)
def rebuild(repo: str = ".", targets: list[str] | None = None, params: str = "params.yaml",
            retries: int | None = None) -> dict[str, str]:
    """Reproduce the DVC pipeline stage by stage (DAG order from dvc.yaml); returns {stage: ran|skipped|cached}."""
    logger = get_run_logger()
    root = Path(repo).resolve()
    cfg = orchestration_config(root, params)
    order = stage_order(root / "dvc.yaml", targets)
    logger.info("DAG order from dvc.yaml (%d stages): %s", len(order), " -> ".join(order))
    n_retries = cfg.retries if retries is None else retries
    statuses: dict[str, str] = {}
    for i, stage in enumerate(order, 1):
        logger.info("[%d/%d] %s", i, len(order), stage)
        run = dvc_stage.with_options(name=f"dvc-{stage}", retries=n_retries, retry_delay_seconds=cfg.retry_delay_s)
        statuses[stage] = run(stage, str(root), cfg.lock_timeout_s, cfg.lock_poll_s)
    publish_artifacts(root, cfg, statuses)
    logger.info("done: %s", ", ".join(f"{s}={st}" for s, st in statuses.items()))
    return statuses


def main(argv: list[str] | None = None) -> dict[str, str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=".")
    ap.add_argument("--target", action="append", help="stage to reproduce with its upstream (repeatable)")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--retries", type=int)
    a = ap.parse_args(argv)
    return rebuild(repo=a.repo, targets=a.target, params=a.params, retries=a.retries)


if __name__ == "__main__":
    main()
