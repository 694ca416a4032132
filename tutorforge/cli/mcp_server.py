"""`tutorforge mcp`: the tutor's tools (search_textbook, make_quiz, show_3d_model, ask_tutor) for an MCP client,
over stdio. The client starts this command and speaks JSON-RPC on its stdin/stdout; logs go to stderr.

    tutorforge mcp                                     # params.yaml [serve]: registry alias production
    tutorforge mcp --model artifacts                   # the pipeline's outputs: artifacts/sft/merged + artifacts/index
    tutorforge mcp --model registry:v3 --params /path/to/params.yaml

The bundle, index and model are loaded before the first message is read: a bad --model or params value exits at
once with one `error:` line on stderr (exit 1, or 2 for a configuration mistake) instead of leaving the client
waiting. The generation engine is stopped when the client hangs up (stdin closed).
(Named mcp_server.py, not mcp.py: a module called `mcp` next to the code that imports the MCP SDK invites confusion.)
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from tutorforge.cli.errors import CommandFailed
from tutorforge.cli.options import ParamsOpt


def mcp_server(
    params: ParamsOpt = "params.yaml",
    model: Annotated[str | None, typer.Option("--model", help="registry:<alias|version> or a folder")] = None,
    index: Annotated[str | None, typer.Option("--index", help="textbook index folder (default: the model's)")] = None,
) -> None:
    """Serve the tutor's tools to an MCP client over stdio."""
    # stdout is the protocol channel: library logging goes to stderr, one line a record (set before the SDK's own
    # logging setup, which then leaves it as it is); the SDK's INFO records say which tool calls were refused
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("mcp").setLevel(os.environ.get("TUTORFORGE_LOG_LEVEL", "INFO"))
    from tutorforge.serve.mcp_tools import create_server, quiet_stdout
    from tutorforge.serve.service import ServiceError, load_service

    overrides = {"model": model, "index": index}
    with quiet_stdout():  # whatever loading prints lands on stderr
        try:
            service = load_service(params, {f"serve.{k}": v for k, v in overrides.items() if v is not None})
        except ServiceError as e:
            raise CommandFailed(str(e)) from None
    try:  # from here on the engine's batching thread runs: stopped however this ends
        with quiet_stdout():
            service.index.search("warm-up", 1)  # the query encoder loads now, not in the client's first call
            server = create_server(service)
        typer.echo(f"mcp: serving {service.bundle.model_id} on stdio", err=True)
        server.run("stdio")
    finally:
        service.tutor.engine.close()
        typer.echo("mcp: stopped", err=True)
