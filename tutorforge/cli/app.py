"""`tutorforge` command line: one Typer app, one sub-app per area (each in its own module).

    tutorforge registry list | show | promote | rollback | download | history
    tutorforge remote setup
    tutorforge label bootstrap | push | pull | select-push
"""

from __future__ import annotations

import typer

from tutorforge.cli.flows import app as flows_app
from tutorforge.cli.flows import cloud_app
from tutorforge.cli.label import app as label_app
from tutorforge.cli.registry import app as registry_app
from tutorforge.cli.registry import remote_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="TutorForge operator commands.")
app.add_typer(registry_app, name="registry")
app.add_typer(remote_app, name="remote")
app.add_typer(label_app, name="label")
app.add_typer(flows_app, name="flows")
app.add_typer(cloud_app, name="cloud")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
