"""The `tutorforge` command: one Typer app whose command table (COMMANDS) lives in app.py; each area's commands in
its own module (label, registry, remote, flows, cloud, params).

    $ tutorforge registry list
    ┃ model            ┃ versions ┃ latest ┃ aliases    ┃
    │ tutorforge-tutor │ 1        │ v1     │ staging→v1 │
"""
