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
from typing import Annotated

import typer
from rich.console import Console

from tutorforge.cli.errors import ConfigError
from tutorforge.cli.options import EndpointOpt, ParamsOpt, RepoOpt, check_http_url, check_s3_uri, first_set, shown

app = typer.Typer(no_args_is_help=True, add_completion=False, help="DVC remote on S3 (or S3-compatible).")
console = Console()


def _endpoint(*candidates: tuple[str, str | None]) -> str | None:
    """The endpoint that wins among `candidates` (then the env chain of resolve_endpoint), checked."""
    env = os.environ.get
    source, url = first_set(
        *candidates,
        ("TUTORFORGE_S3_ENDPOINT_URL", env("TUTORFORGE_S3_ENDPOINT_URL")),
        ("AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL")),
    )
    return check_http_url(url, source) if url else None


@app.command()
def setup(
    url: Annotated[str | None, typer.Option(help="s3://bucket/prefix (default: params [remote].url)")] = None,
    remote_name: Annotated[str | None, typer.Option("--name", help="DVC remote name")] = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
    repo: RepoOpt = Path("."),
) -> None:
    """Write the S3 remote (+ endpointurl) into .dvc/config.local as the default; credentials are never written."""
    from tutorforge.core.config import load_config
    from tutorforge.orchestration.dvc_remote import RemoteConfig, RemoteSpec, setup_dvc_remote

    if not (repo / ".dvc").is_dir():
        raise ConfigError(f"--repo: {shown(str(repo))} is not a DVC repository (no .dvc/ directory)")
    cfg = load_config(RemoteConfig, "remote", params)
    source, url = first_set(
        ("--url", url),
        ("TUTORFORGE_DVC_REMOTE", os.environ.get("TUTORFORGE_DVC_REMOTE")),
        (f"{params}: remote.url", cfg.url),
    )
    if not url:
        raise ConfigError("no remote URL: pass --url, set TUTORFORGE_DVC_REMOTE or params [remote].url")
    check_s3_uri(url, source)
    endpoint = _endpoint(("--endpoint-url", endpoint_url), (f"{params}: remote.endpoint_url", cfg.endpoint_url))
    spec = RemoteSpec(url=url, name=remote_name or cfg.name or "s3", endpoint_url=endpoint)
    setup_dvc_remote(spec, repo, dvc=_dvc())
    console.print(
        f"[green]DVC remote {spec.name!r} → {url} (default, .dvc/config.local)[/]; "
        "now `dvc push` / `dvc pull` (credentials from the AWS env/config chain)"
    )


@app.command()
def mirror(
    local_dir: Annotated[
        Path, typer.Argument(help="e.g. artifacts/pretrain/checkpoints", exists=True, file_okay=False)
    ],
    s3_uri: Annotated[str, typer.Argument(help="s3://bucket/prefix")],
    endpoint_url: EndpointOpt = None,
) -> None:
    """Mirror a checkpoints directory to S3 (parallel multipart; same-size files are skipped)."""
    from tutorforge.orchestration.dvc_remote import mirror_checkpoints

    check_s3_uri(s3_uri, "S3_URI")
    n = mirror_checkpoints(local_dir, s3_uri, _endpoint(("--endpoint-url", endpoint_url)))
    console.print(f"[green]{n} file(s) uploaded to {s3_uri}[/]")


def _dvc() -> str:
    """The venv's dvc next to this interpreter, else the one on PATH."""
    import shutil
    import sys

    cand = Path(sys.executable).parent / "dvc"
    return str(cand) if cand.exists() else (shutil.which("dvc") or "dvc")
