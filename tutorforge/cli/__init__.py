"""The `tutorforge` command: one Typer app whose command table lives in app.py; each area's commands in its own
module (label, registry, remote, flows, cloud, params).

    $ tutorforge registry list
    tutorforge-tutor  v1  staging  2026-12-02T11:02:00Z  25 files  45.9 MB
"""
