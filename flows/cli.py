"""`tutorforge` command line: one Typer app, one sub-app per area (each in its own module).

    tutorforge registry list | show | promote | rollback | download | history
    tutorforge remote setup
"""

from __future__ import annotations

import typer

from flows.registry_cli import app as registry_app
from flows.registry_cli import remote_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="TutorForge operator commands.")
app.add_typer(registry_app, name="registry")
app.add_typer(remote_app, name="remote")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
