"""`tutorforge remote …`: the DVC remote on S3 (or an S3-compatible store) and checkpoint mirroring.

    tutorforge remote setup --url s3://bucket/dvcstore --endpoint-url http://127.0.0.1:5000
    tutorforge remote setup                                   # params [remote] (or env TUTORFORGE_DVC_REMOTE)
    tutorforge remote mirror artifacts/pretrain/checkpoints s3://bucket/checkpoints/pretrain

Remote URL: --url > env TUTORFORGE_DVC_REMOTE > params [remote].url; S3 endpoint: --endpoint-url > params
[remote].endpoint_url > env TUTORFORGE_S3_ENDPOINT_URL > AWS_ENDPOINT_URL. Credentials: the standard AWS env/config
chain only (never written into .dvc/config.local).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="DVC remote on S3 (or S3-compatible).")
console = Console()
err = Console(stderr=True)

EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", help="S3-compatible endpoint URL")]
ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]


def _fail(e: Exception) -> NoReturn:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(str(e))}")  # escaped: "[remote].url" is text, not rich markup
    raise typer.Exit(1)


@app.command()
def setup(
    url: Annotated[str | None, typer.Option(help="s3://bucket/prefix (default: params [remote].url)")] = None,
    remote_name: Annotated[str | None, typer.Option("--name", help="DVC remote name")] = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
    repo: Annotated[Path, typer.Option(help="DVC repo root")] = Path("."),
) -> None:
    """Write the S3 remote (+ endpointurl) into .dvc/config.local as the default; credentials are never written."""
    from tutorforge.core.config import ParamsError, load_config
    from tutorforge.orchestration.dvc_remote import RemoteConfig, RemoteSpec, setup_dvc_remote
    from tutorforge.registry.store import RegistryError

    try:
        cfg = load_config(RemoteConfig, "remote", params)
    except ParamsError as e:
        _fail(e)
    url = url or os.environ.get("TUTORFORGE_DVC_REMOTE") or cfg.url
    if not url:
        _fail(RuntimeError("no remote URL: pass --url, set TUTORFORGE_DVC_REMOTE or params [remote].url"))
    spec = RemoteSpec(url=url, name=remote_name or cfg.name or "s3", endpoint_url=endpoint_url or cfg.endpoint_url)
    try:
        setup_dvc_remote(spec, repo, dvc=_dvc())
    except RegistryError as e:
        _fail(e)
    console.print(
        f"[green]DVC remote {spec.name!r} → {url} (default, .dvc/config.local)[/]; "
        "now `dvc push` / `dvc pull` (credentials from the AWS env/config chain)"
    )


@app.command()
def mirror(
    local_dir: Annotated[Path, typer.Argument(help="e.g. artifacts/pretrain/checkpoints")],
    s3_uri: Annotated[str, typer.Argument(help="s3://bucket/prefix")],
    endpoint_url: EndpointOpt = None,
) -> None:
    """Mirror a checkpoints directory to S3 (parallel multipart; same-size files are skipped)."""
    from tutorforge.orchestration.dvc_remote import mirror_checkpoints

    n = mirror_checkpoints(local_dir, s3_uri, endpoint_url)
    console.print(f"[green]{n} file(s) uploaded to {s3_uri}[/]")


def _dvc() -> str:
    """The venv's dvc next to this interpreter, else the one on PATH."""
    import shutil
    import sys

    cand = Path(sys.executable).parent / "dvc"
    return str(cand) if cand.exists() else (shutil.which("dvc") or "dvc")
