"""Prefect flows: `rebuild` (DVC stage by stage), `retrain` (Label Studio -> rebuild -> promote -> push),
`cloud_train` (a training stage on SkyPilot) and their scheduled deployments (`deploy`); the plumbing they
call lives in tutorforge/orchestration."""
