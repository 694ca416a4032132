"""Hostile registry content, planted straight into the storage (moto's S3 server through boto3, or the local
directory by hand), so the Store/Registry code under test never gets a say in what lands there.

    plant_object(reg.store, "models/tutor/v1/objects/u1//home/u/.bashrc", b"pwned")   # the key exactly as given
    plant_manifest(reg.store, "tutor", "v1", {"/home/u/.bashrc": b"pwned"})           # sha256 + size of each payload
    plant_version(reg.store, "tutor", "v1", {"/home/u/.bashrc": b"pwned", "metrics.json": b"{}"})  # both
    before = tree(home); ...; assert tree(home) == before     # nothing written, created or removed below `home`
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tutorforge.registry.store import LocalStore, S3Store

UPLOAD_ID = "20250101T000000-0123456789ab"
METRICS = json.dumps({"sft": {"answer_loss": 2.0}, "base": {"answer_loss": 3.0}}).encode()


def plant_object(store: LocalStore | S3Store, key: str, data: bytes) -> None:
    """Write `data` at `key` below the store's root/prefix, bypassing the store's own key checks."""
    if isinstance(store, S3Store):
        full = f"{store.prefix}/{key}" if store.prefix else key
        store.client.put_object(Bucket=store.bucket, Key=full, Body=data)
        return
    path = Path(f"{store.root}/{key}")  # what a path join of the raw key gives ("//" collapses, ".." stays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def plant_manifest(
    store: LocalStore | S3Store,
    name: str,
    version: str,
    files: dict[str, bytes],
    wrong_checksum: tuple[str, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A manifest.json listing `files` (sha256/size of each payload; `wrong_checksum` keys get another digest);
    `fields` replace the defaults (objects, ...). Returns the manifest."""
    meta = {
        k: {"sha256": hashlib.sha256(b"not this" if k in wrong_checksum else v).hexdigest(), "size": len(v)}
        for k, v in files.items()
    }
    manifest = {
        "format": 1,
        "name": name,
        "version": version,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "upload_id": UPLOAD_ID,
        "objects": f"objects/{UPLOAD_ID}",
        "content_digest": "0" * 64,
        "files": meta,
        "total_size": sum(len(v) for v in files.values()),
        "lineage": {},
        **fields,
    }
    plant_object(store, f"models/{name}/{version}/manifest.json", json.dumps(manifest).encode())
    return manifest


def plant_version(
    store: LocalStore | S3Store,
    name: str,
    version: str,
    files: dict[str, bytes],
    wrong_checksum: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every file's object under objects/<UPLOAD_ID>/<key> plus the manifest listing them."""
    for key, data in files.items():
        plant_object(store, f"models/{name}/{version}/objects/{UPLOAD_ID}/{key}", data)
    return plant_manifest(store, name, version, files, wrong_checksum)


def tree(root: Path) -> dict[str, bytes | None]:
    """{path below root: file bytes, or None for a folder}, symlinks not followed, a named pipe or socket never opened
    (reading a pipe would block)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = b"<link to> " + os.readlink(p).encode()
        elif p.is_dir():
            out[rel] = None
        else:
            out[rel] = p.read_bytes() if p.is_file() else b"<not a regular file>"
    return out
