"""Scheduled Prefect deployments `rebuild` and `retrain` (crons from params [orchestration]).

    prefect server start --host 127.0.0.1 --port 4200          # terminal 1: API + UI on http://127.0.0.1:4200
    export PREFECT_API_URL=http://127.0.0.1:4200/api            # terminal 2, from the repo root:
    python -m flows.deploy serve                                # register both deployments and run their schedules
    python -m flows.deploy register                             # only register them (no process executes runs)
    prefect deployment run 'retrain/retrain'                    # a run now, outside the schedule

`serve` keeps a process alive that polls the server and executes the scheduled runs (`flow.serve` semantics);
`register` creates/updates the deployments with their cron schedules so they appear in the UI (Deployments) with
upcoming runs, to be executed by a later `serve`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tutorforge.core.config import load_config
from tutorforge.orchestration.settings import OrchestrationConfig


def schedules(cron: str | None, timezone: str) -> list[Any]:
    from prefect.schedules import Cron

    return [Cron(cron, timezone=timezone)] if cron else []


def deployments(repo: str = ".", params: str = "params.yaml", cfg: OrchestrationConfig | None = None) -> list[Any]:
    """RunnerDeployments for `rebuild` and `retrain`, each with its cron schedule and the repo as parameter."""
    from flows.rebuild import rebuild
    from flows.retrain import retrain

    root = str(Path(repo).resolve())
    cfg = cfg or load_config(OrchestrationConfig, "orchestration", Path(root) / params)
    common = {"parameters": {"repo": root, "params": params}, "tags": ["tutorforge"]}
    return [
        rebuild.to_deployment(
            name="rebuild",
            schedules=schedules(cfg.rebuild_cron, cfg.timezone),
            description="Reproduce the DVC pipeline stage by stage (cache hits are skipped).",
            **common,
        ),
        retrain.to_deployment(
            name="retrain",
            schedules=schedules(cfg.retrain_cron, cfg.timezone),
            description="Label Studio pull -> rebuild -> register -> promote -> select/push.",
            **common,
        ),
    ]


def register(repo: str = ".", params: str = "params.yaml") -> dict[str, str]:
    """Create or update the deployments on the server in PREFECT_API_URL; returns {name: deployment id}."""
    return {d.name: str(d.apply()) for d in deployments(repo, params)}


def serve(repo: str = ".", params: str = "params.yaml") -> None:
    """Register the deployments and execute their scheduled runs until interrupted."""
    from prefect import serve as prefect_serve

    prefect_serve(*deployments(repo, params))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("action", choices=["serve", "register"])
    ap.add_argument("--repo", default=".")
    ap.add_argument("--params", default="params.yaml")
    a = ap.parse_args(argv)
    if a.action == "serve":
        serve(a.repo, a.params)
    else:
        for name, dep_id in register(a.repo, a.params).items():
            print(f"deployment {name}: {dep_id}")


if __name__ == "__main__":
    main()
