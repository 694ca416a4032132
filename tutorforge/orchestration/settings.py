"""params [orchestration]: schedules, retries, DVC lock waits and the Label Studio commands of the Prefect flows.

from tutorforge.core.config import load_config
cfg = load_config(OrchestrationConfig, "orchestration", "params.yaml")
cfg.retrain_cron, cfg.retries        # ('0 3 * * 1', 1)
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorforge.core.config import NonNegFloat, NonNegInt, PositiveFloat, section


@section("orchestration")
@dataclass
class OrchestrationConfig:
    rebuild_cron: str | None = "0 2 * * *"
    """Cron of the scheduled `rebuild` deployment (null = no schedule)."""
    retrain_cron: str | None = "0 3 * * 1"
    """Cron of the scheduled `retrain` deployment (Mondays 03:00)."""
    timezone: str = "UTC"
    """Time zone of both crons."""
    retries: NonNegInt = 1
    """Prefect retries per stage task (a transient failure: OOM kill, network for `dvc pull`)."""
    retry_delay_s: NonNegFloat = 30.0
    """Seconds between retries."""
    lock_timeout_s: NonNegFloat = 1800.0
    """How long a stage waits for another DVC process's repo lock before failing."""
    lock_poll_s: PositiveFloat = 5.0
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
