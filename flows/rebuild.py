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
import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tutorforge.core.config import load_config
from tutorforge.orchestration.dvc_runner import run_stage, stage_order
from tutorforge.orchestration.run_summary import flatten_metrics
from tutorforge.orchestration.settings import OrchestrationConfig


@task(task_run_name="dvc-{stage}")
def dvc_stage(stage: str, repo: str, lock_timeout_s: float, lock_poll_s: float) -> str:
    """One DVC stage; its output goes line by line into the run log. Returns ran | skipped | cached."""
    logger = get_run_logger()
    logger.info("stage %s: dvc repro --single-item %s (in %s)", stage, stage, repo)
    res = run_stage(stage, repo, lambda line: logger.info("[%s] %s", stage, line), lock_timeout_s, lock_poll_s)
    logger.info(
        "stage %s: %s in %.1fs%s",
        stage,
        res.status,
        res.seconds,
        f" after {res.lock_waits} lock wait(s)" if res.lock_waits else "",
    )
    return res.status


def publish_artifacts(repo: Path, cfg: OrchestrationConfig, statuses: dict[str, str]) -> list[str]:
    """Stage table, evaluation report and metrics table as Prefect artifacts; returns the keys created."""
    keys = ["tutorforge-rebuild-stages"]
    create_table_artifact(
        [{"stage": s, "status": st} for s, st in statuses.items()],
        key=keys[0],
        description="What each DVC stage did in this run (ran / skipped = unchanged / cached)",
    )
    report, metrics = repo / cfg.report, repo / cfg.metrics
    if report.exists():
        create_markdown_artifact(
            report.read_text(encoding="utf-8"),
            key="tutorforge-eval-report",
            description=f"{cfg.report} from the evaluate stage",
        )
        keys.append("tutorforge-eval-report")
    if metrics.exists():
        rows = flatten_metrics(json.loads(metrics.read_text(encoding="utf-8")))
        create_table_artifact(rows, key="tutorforge-metrics", description=f"{cfg.metrics}, flattened")
        keys.append("tutorforge-metrics")
    return keys


@flow(name="rebuild", log_prints=True)
def rebuild(
    repo: str = ".", targets: list[str] | None = None, params: str = "params.yaml", retries: int | None = None
) -> dict[str, str]:
    """Reproduce the DVC pipeline stage by stage (DAG order from dvc.yaml); returns {stage: ran|skipped|cached}."""
    logger = get_run_logger()
    root = Path(repo).resolve()
    cfg = load_config(OrchestrationConfig, "orchestration", root / params)
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
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--repo", default=".")
    ap.add_argument("--target", action="append", help="stage to reproduce with its upstream (repeatable)")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--retries", type=int)
    a = ap.parse_args(argv)
    return rebuild(repo=a.repo, targets=a.target, params=a.params, retries=a.retries)


if __name__ == "__main__":
    main()
