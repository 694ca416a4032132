"""Orchestration plumbing for flows/ and the CLI: the DVC stage DAG and runner (dvc_runner), SkyPilot checks and
cost plans (skypilot), the DVC remote and checkpoint mirroring (dvc_remote), orchestration settings (settings).

A stage result of the runner:

    StageResult(stage="segment", status="skipped", seconds=1.9, lock_waits=0)
"""
