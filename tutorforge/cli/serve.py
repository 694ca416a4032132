"""`tutorforge serve`: the tutor's HTTP API (FastAPI + uvicorn) on a registry version or a local folder.

    export TUTORFORGE_API_TOKEN=$(openssl rand -hex 24)
    tutorforge serve                                   # params.yaml [serve]: registry alias production, 127.0.0.1:8000
    tutorforge serve --model registry:v3 --port 8080   # a version (or any alias) of the [register] registry
    tutorforge serve --model artifacts                 # the pipeline's outputs: artifacts/sft/merged + artifacts/index

Exit 2 with one line for a configuration mistake (no TUTORFORGE_API_TOKEN, a bad params value or option); exit 1 for
what cannot be served (no such alias, a download that fails verification, an index that is edited or missing).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tutorforge.cli.errors import CommandFailed, ConfigError
from tutorforge.cli.options import ParamsOpt


def serve(
    params: ParamsOpt = "params.yaml",
    model: Annotated[str | None, typer.Option("--model", help="registry:<alias|version> or a folder")] = None,
    index: Annotated[str | None, typer.Option("--index", help="textbook index folder (default: the model's)")] = None,
    host: Annotated[str | None, typer.Option("--host", help="interface (default: serve.host)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port (default: serve.port)")] = None,
) -> None:
    """Serve the tutor: health, models and textbook context over HTTP, bearer token from TUTORFORGE_API_TOKEN."""
    from tutorforge.serve.config import TOKEN_ENV

    token = os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise ConfigError(f"{TOKEN_ENV} is not set: every endpoint but /health needs a bearer token")
    overrides = {"model": model, "index": index, "host": host, "port": port}

    import uvicorn

    from tutorforge.serve.app import create_app
    from tutorforge.serve.service import ServiceError, load_service

    try:
        service = load_service(params, {f"serve.{k}": v for k, v in overrides.items() if v is not None})
    except ServiceError as e:
        raise CommandFailed(str(e)) from None
    cfg, bundle, textbook = service.cfg, service.bundle, service.index
    app = create_app(cfg, bundle, textbook, token.strip(), service.tutor)
    typer.echo(
        f"serving {bundle.model_id} ({len(textbook.chunks)} index chunks) on http://{cfg.host}:{cfg.port}", err=True
    )
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info")
