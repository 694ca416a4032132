"""Orchestration plumbing for flows/ and the CLI: the DVC stage DAG and runner (dvc_runner), orchestration settings
(settings), SkyPilot checks and cost plans (skypilot), managed cloud-job commands (cloud_jobs), operator command lines
(commands), run reports (run_summary), the DVC remote and checkpoint mirroring (dvc_remote).

A stage result of the runner:

    StageResult(stage="segment", status="skipped", seconds=1.9, lock_waits=0)
"""
