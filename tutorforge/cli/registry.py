"""`tutorforge registry …`: list, show, promote, rollback, download and history of the model registry.

    tutorforge registry list                                  # models; `--name tutorforge-tutor` for its versions
    tutorforge registry show production --verify              # manifest, aliases, metrics, lineage; deep checksum check
    tutorforge registry promote v3                            # gate from params [register].gate vs production
    tutorforge registry rollback --alias production
    tutorforge registry download production ./models/prod     # every sha256 verified, nothing left on failure

Registry location: --registry > env TUTORFORGE_REGISTRY > params [register].registry; S3 endpoint: --endpoint-url >
env TUTORFORGE_S3_ENDPOINT_URL > AWS_ENDPOINT_URL > params. Credentials: the standard AWS env/config chain only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tutorforge.cli.errors import CommandFailed
from tutorforge.cli.options import EndpointOpt, ParamsOpt, check_http_url, check_store_location, first_set

if TYPE_CHECKING:
    from tutorforge.registry.register import RegisterConfig
    from tutorforge.registry.registry import Registry

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Model registry (S3 or a local dir).")
console = Console()

RegistryOpt = Annotated[str | None, typer.Option("--registry", help="local dir or s3://bucket/prefix")]
NameOpt = Annotated[str | None, typer.Option("--name", help="model name (default: params [register].name)")]


def _cfg(params: str) -> RegisterConfig:
    from tutorforge.core.config import load_config
    from tutorforge.registry.register import RegisterConfig

    return load_config(RegisterConfig, "register", params)


def _open(registry: str | None, endpoint: str | None, params: str) -> tuple[Registry, RegisterConfig]:
    """The registry open_registry would open, its location and S3 endpoint checked first (same precedence)."""
    from tutorforge.registry.register import open_registry

    cfg = _cfg(params)
    env = os.environ.get
    source, location = first_set(
        ("--registry", registry),
        ("TUTORFORGE_REGISTRY", env("TUTORFORGE_REGISTRY")),
        (f"{params}: register.registry", cfg.registry),
    )
    if check_store_location(location or "", source):
        source, url = first_set(
            ("--endpoint-url", endpoint),
            ("TUTORFORGE_S3_ENDPOINT_URL", env("TUTORFORGE_S3_ENDPOINT_URL")),
            ("AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL")),
            (f"{params}: register.endpoint_url", cfg.endpoint_url),
        )
        if url:
            check_http_url(url, source)
    return open_registry(cfg, registry, endpoint), cfg


@app.command("list")
def list_(
    name: NameOpt = None,
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Models, or the versions of one model with their aliases."""
    reg, cfg = _open(registry, endpoint_url, params)
    if name is None:
        t = Table(title=f"models in {reg.store.uri()}")
        for c in ("model", "versions", "latest", "aliases"):
            t.add_column(c)
        for m in reg.models():
            vs = reg.versions(m)
            al = ", ".join(f"{a}→{r['version']}" for a, r in sorted(reg.aliases(m).items()))
            t.add_row(m, str(len(vs)), vs[-1] if vs else "-", al or "-")
        console.print(t)
        return
    aliases = reg.aliases(name)
    t = Table(title=f"{name} in {reg.store.uri()}")
    for c in ("version", "created", "files", "size MB", "git", "aliases"):
        t.add_column(c)
    for v in reg.versions(name):
        m = reg.manifest(name, v)
        git = (m.get("lineage", {}).get("git_commit") or "")[:10] + (
            "*" if m.get("lineage", {}).get("git_dirty") else ""
        )
        t.add_row(
            v,
            m["created_at"][:19],
            str(len(m["files"])),
            f"{m['total_size'] / 2**20:.1f}",
            git or "-",
            ", ".join(a for a, r in sorted(aliases.items()) if r["version"] == v) or "",
        )
    console.print(t)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="version or alias")],
    name: NameOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="download and check every sha256")] = False,
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """One version: manifest summary, aliases, gate metrics, lineage."""
    from tutorforge.registry.gate import flatten

    reg, cfg = _open(registry, endpoint_url, params)
    name = name or cfg.name
    version = reg.resolve(name, ref)
    m = reg.manifest(name, version)
    t = Table(title=f"{name}:{version}", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    metrics = flatten(json.loads(reg.read_file(name, version, "metrics.json")))
    rows = [
        ("uri", reg.store.uri(f"models/{name}/{version}/")),
        ("created_at", m["created_at"]),
        ("files", f"{len(m['files'])} ({m['total_size'] / 2**20:.1f} MB)"),
        ("content_digest", m["content_digest"][:16]),
        ("aliases", ", ".join(a for a, r in reg.aliases(name).items() if r["version"] == version) or "-"),
    ]
    rows += [(f"lineage.{k}", json.dumps(v)[:100]) for k, v in m.get("lineage", {}).items()]
    rows += [
        (k, f"{metrics[k]:.4g}")
        for k in sorted(metrics)
        if k.split(".")[0] in ("base", "sft", "delta") or k == "answer_loss_reduction"
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)
    if verify:
        problems = reg.verify(name, version, deep=True)
        if problems:
            raise CommandFailed(f"{name}:{version} failed verification: " + "; ".join(problems))
        console.print(f"[green]{name}:{version}: all {len(m['files'])} files verified[/]")


@app.command()
def promote(
    ref: Annotated[str, typer.Argument(help="version or alias (e.g. staging)")],
    name: NameOpt = None,
    alias: Annotated[str, typer.Option(help="alias to move")] = "production",
    force: Annotated[bool, typer.Option("--force", help="promote even if the gate refuses")] = False,
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Move `alias` (production) to REF if it passes the promotion gate of params [register].gate."""
    from tutorforge.registry.gate import promote as promote_version

    reg, cfg = _open(registry, endpoint_url, params)
    name = name or cfg.name
    ok, reasons = promote_version(reg, name, ref, cfg.gate, alias=alias, force=force)
    for r in reasons:
        console.print(f"  - {r}")
    if not ok:
        raise CommandFailed(f"promotion of {name}:{ref} to {alias} refused by the gate")
    console.print(f"[green]{name}: {alias} → {reg.resolve(name, alias)}[/]")


@app.command()
def rollback(
    name: NameOpt = None,
    alias: Annotated[str, typer.Option(help="alias to move back")] = "production",
    reason: Annotated[str, typer.Option(help="recorded in the history")] = "rollback",
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Move `alias` back to the version it held before."""
    reg, cfg = _open(registry, endpoint_url, params)
    name = name or cfg.name
    new = reg.rollback(name, alias, reason)
    console.print(f"[green]{name}: {alias} {new['previous']} → {new['version']}[/]")


@app.command()
def history(
    name: NameOpt = None,
    alias: Annotated[str | None, typer.Option(help="only this alias")] = None,
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Every alias change (append-only): when, who, alias, from, to, why."""
    reg, cfg = _open(registry, endpoint_url, params)
    name = name or cfg.name
    t = Table(title=f"{name} alias history")
    for c in ("at", "by", "alias", "action", "from", "to", "reason"):
        t.add_column(c)
    for h in reg.history(name, alias):
        t.add_row(h["at"][:19], h["by"], h["alias"], h["action"], h["from"] or "-", h["to"], h["reason"][:80])
    console.print(t)


@app.command()
def download(
    ref: Annotated[str, typer.Argument(help="version or alias")],
    dest: Annotated[Path, typer.Argument(help="destination dir (must not exist or be empty)")],
    name: NameOpt = None,
    registry: RegistryOpt = None,
    endpoint_url: EndpointOpt = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Download a version; every file's sha256 and size is verified, or nothing is left at DEST."""
    reg, cfg = _open(registry, endpoint_url, params)
    name = name or cfg.name
    out = reg.download(name, ref, dest)
    console.print(f"[green]{name}:{reg.resolve(name, ref)} verified → {out}[/]")
