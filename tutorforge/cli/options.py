"""Options the `tutorforge` areas share, and the checks behind them: a bad value is a ConfigError (exit code 2) that
names where the value came from: the option, the environment variable or the params key.

    def cmd(params: ParamsOpt = "params.yaml", endpoint_url: EndpointOpt = None, repo: RepoOpt = Path(".")): ...
    source, url = first_set(("--url", url), ("TUTORFORGE_DVC_REMOTE", os.environ.get("TUTORFORGE_DVC_REMOTE")))
    check_s3_uri(url, source)                       # -> ConfigError("TUTORFORGE_DVC_REMOTE: 's4://x' is not ...")

Secrets never appear in these messages: a URL is shown without its user:password@ part.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import typer

from tutorforge.cli.errors import ConfigError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # "s3://", "s4://", "http:/": a URL, not a local path
_S3_URI = re.compile(r"^s3://[A-Za-z0-9][A-Za-z0-9._-]*(/\S*)?$")  # a bucket name, then any key prefix


def shown(value: str) -> str:
    """`value` quoted for a message, with any user:password@ of a URL left out."""
    return repr(re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1", value))


def first_set(*candidates: tuple[str, str | None]) -> tuple[str, str | None]:
    """The (source, value) that wins among (source, value) pairs in precedence order; (last source, None) if none."""
    for source, value in candidates:
        if value:
            return source, value
    return (candidates[-1][0] if candidates else ""), None


def check_http_url(value: str, source: str) -> str:
    """An http(s)://host[:port][/path] URL (an S3 endpoint, an API URL), else ConfigError naming `source`."""
    parts = urllib.parse.urlsplit(value)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or re.search(r"\s", value):
        raise ConfigError(f"{source}: {shown(value)} is not an http(s)://host[:port] URL")
    return value


def check_s3_uri(value: str, source: str) -> str:
    """An s3://bucket[/prefix] URI, else ConfigError naming `source`."""
    if not _S3_URI.match(value):
        raise ConfigError(f"{source}: {shown(value)} is not an s3://bucket/prefix URI")
    return value


def check_store_location(value: str, source: str, must_exist: bool = True) -> bool:
    """A local directory or an s3://bucket/prefix URI (True = S3); any other URL scheme is a ConfigError, and so is
    a local directory that does not exist when `must_exist` (a read against it would report nothing, not the typo)."""
    if _SCHEME.match(value):
        check_s3_uri(value, source)
        return True
    if must_exist and not Path(value).is_dir():
        raise ConfigError(f"{source}: local directory {shown(value)} does not exist (or use s3://bucket/prefix)")
    return False


def require_file(value: str | Path, source: str) -> Path:
    """An existing file, else ConfigError naming `source`."""
    if not Path(value).is_file():
        raise ConfigError(f"{source}: file {shown(str(value))} not found")
    return Path(value)


def _explicit(ctx: typer.Context, param: typer.CallbackParam) -> bool:
    source = ctx.get_parameter_source(param.name or "")
    return source is not None and source.name != "DEFAULT"


def _params_file(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    # an explicit --params must exist; the default params.yaml may be absent (section defaults, outside the repo)
    if _explicit(ctx, param):
        require_file(value, "--params")
    return value


def _endpoint_url(value: str | None) -> str | None:
    return check_http_url(value, "--endpoint-url") if value is not None else None


def _directory(value: Path) -> Path:
    if not value.is_dir():
        raise ConfigError(f"--repo: directory {shown(str(value))} does not exist")
    return value


ParamsOpt = Annotated[str, typer.Option("--params", help="params file", callback=_params_file)]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint-url", help="S3-compatible endpoint URL", callback=_endpoint_url)
]
RepoOpt = Annotated[Path, typer.Option("--repo", help="repository root", callback=_directory)]


def choice(name: str, value: Any, allowed: list[str] | tuple[str, ...]) -> Any:
    """`value` if it is one of `allowed`, else ConfigError naming the option and listing the choices."""
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value
