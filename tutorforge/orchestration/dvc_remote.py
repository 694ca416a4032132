"""The DVC remote on S3 (or an S3-compatible store) and checkpoint mirroring: params [remote] and
`tutorforge remote setup | mirror`.

    cfg = load_config(RemoteConfig, "remote", "params.yaml")          # RemoteConfig(name='s3', url=None, ...)
    setup_dvc_remote(RemoteSpec(url="s3://bucket/tutorforge/dvc", endpoint_url="http://127.0.0.1:5000"))
    mirror_checkpoints("artifacts/pretrain/checkpoints", "s3://bucket/checkpoints/pretrain")   # -> files uploaded

The remote goes into .dvc/config.local (never committed) as the default remote; credentials are never written: DVC
and boto3 read them from the standard AWS environment/config chain.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tutorforge.core.config import section
from tutorforge.registry.registry import collect_files
from tutorforge.registry.store import RegistryError, Transfer, open_store, resolve_endpoint


@section("remote")
@dataclass
class RemoteConfig:
    name: str = "s3"
    """DVC remote name."""
    url: str | None = None
    """Remote URL, e.g. s3://my-bucket/tutorforge/dvc (env TUTORFORGE_DVC_REMOTE and --url override)."""
    endpoint_url: str | None = None
    """S3-compatible store (MinIO, moto); null = AWS. Credentials come from the AWS chain only."""


@dataclass
class RemoteSpec:
    """A DVC remote on S3 (credentials from the AWS chain, never written)."""

    url: str
    name: str = "s3"
    endpoint_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def setup_dvc_remote(spec: RemoteSpec, repo: str | Path = ".", dvc: str = "dvc") -> list[list[str]]:
    """`dvc remote add -d --local --force` + `endpointurl` into .dvc/config.local; returns the commands run."""
    cmds = [[dvc, "remote", "add", "-d", "--local", "--force", spec.name, spec.url]]
    endpoint = resolve_endpoint(spec.endpoint_url)
    if endpoint:
        cmds.append([dvc, "remote", "modify", "--local", spec.name, "endpointurl", endpoint])
    for k, v in spec.extra.items():
        cmds.append([dvc, "remote", "modify", "--local", spec.name, k, str(v)])
    for c in cmds:
        r = subprocess.run(c, cwd=repo, capture_output=True, text=True)
        if r.returncode:
            raise RegistryError(f"{' '.join(c[:4])} failed: {r.stderr.strip()}")
    return cmds


def mirror_checkpoints(
    local_dir: str | Path, s3_uri: str, endpoint_url: str | None = None, transfer: Transfer | None = None
) -> int:
    """Mirror a checkpoints dir to `s3_uri` (parallel multipart); files already there with the same size are
    skipped. Returns the number of files uploaded."""
    store = open_store(s3_uri, endpoint_url, transfer)
    files = collect_files({"": local_dir}) if Path(local_dir).is_dir() else {}
    todo = [(rel.lstrip("/"), p) for rel, p in files.items() if store.size(rel.lstrip("/")) != p.stat().st_size]
    with ThreadPoolExecutor(max(1, store.transfer.max_files_parallel)) as ex:
        list(ex.map(lambda kv: store.upload_file(kv[1], kv[0]), todo))
    return len(todo)
