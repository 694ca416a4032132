"""`tutorforge` command line: one Typer app; COMMANDS is its command table (sub-app name -> Typer app, help).

    tutorforge registry list | show | promote | rollback | download | history
    tutorforge remote setup | mirror
    tutorforge label bootstrap | push | pull | select-push
    tutorforge flows run | register | serve
    tutorforge cloud check | plan | launch | set-profile | upstream
    tutorforge params check
    tutorforge serve [--model registry:production|<folder>] [--port 8000]
    tutorforge mcp [--model registry:production|<folder>]       (MCP over stdio, for Claude Desktop and other clients)

Each sub-app module imports its heavy dependencies inside the commands, so `tutorforge --help` stays fast.
Every command fails the same way (errors.OneLineErrors, the top-level group): one `error: …` line on stderr, exit
code 2 for a configuration mistake (option, environment variable, params file, credentials), 1 for a runtime failure.
"""

from __future__ import annotations

import typer

from tutorforge.cli import cloud, flows, label, params, registry, remote
from tutorforge.cli.errors import OneLineErrors
from tutorforge.cli.mcp_server import mcp_server
from tutorforge.cli.serve import serve

COMMANDS: dict[str, tuple[typer.Typer, str]] = {
    "registry": (registry.app, "Model registry (S3 or a local dir): list, show, promote, rollback, download."),
    "remote": (remote.app, "DVC remote on S3 (or S3-compatible): setup, checkpoint mirror."),
    "label": (label.app, "Label Studio projects, tasks and snapshots."),
    "flows": (flows.app, "Prefect flows and scheduled deployments."),
    "cloud": (cloud.app, "SkyPilot cloud training: check, plan, launch (plan first)."),
    "params": (params.app, "Validate params files."),
}

app = typer.Typer(cls=OneLineErrors, no_args_is_help=True, add_completion=False, help="TutorForge operator commands.")
for _name, (_sub_app, _help) in COMMANDS.items():
    app.add_typer(_sub_app, name=_name, help=_help)
app.command("serve", help="Serve the tutor over HTTP (OpenAI-style API, textbook context, health, metrics).")(serve)
app.command("mcp", help="Serve the tutor's tools to an MCP client over stdio (search, quiz, 3D models).")(mcp_server)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
