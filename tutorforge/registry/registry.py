"""Model registry on S3 (or any S3-compatible store) or a local directory: one code path, two storage backends.

Layout under the registry root (`s3://bucket/prefix` or a local dir, default `registry/`):

    models/<name>/<version>/_claim.json                 who is uploading this version (written with If-None-Match)
    models/<name>/<version>/objects/<upload_id>/<path>  the files of that upload (model dirs, tokenizer, metrics,
                                                        README.md model card, lineage.json)
    models/<name>/<version>/manifest.json               written LAST with If-None-Match: * -> the version exists
    models/<name>/aliases/<alias>.json                  {"version", "stack", ...} updated by compare-and-swap (If-Match)
    models/<name>/aliases/history/<ts>-<alias>-<id>.json  one immutable object per alias change (append-only)

Immutability and races. A registration (1) claims the version with `_claim.json` (If-None-Match: the loser of a race
fails fast with a clear error; a claim older than `claim_ttl_s` is taken over by CAS on its ETag), (2) uploads its
files under its own `objects/<upload_id>/` prefix, so even a stale claimant still uploading can never overwrite the
files of the registration that took over, and (3) writes `manifest.json` (sha256 + size per file) with If-None-Match:
exactly one manifest per version can ever exist. Readers list only versions that have a manifest and read files
through it, so a killed upload leaves nothing visible (only an orphan prefix). A manifest read back is untrusted data:
its keys are checked (manifest.py) before any becomes a path or an object key, so no key reaches outside the
version's objects or the download folder. Download verifies every checksum in a temp folder renamed only at the end.
The conditional writes (If-None-Match / If-Match, and their local-directory equivalents) are the stores' (store.py);
the alias records and their compare-and-swap loop are aliases.py; the promotion gate that moves `production` is
gate.py; the name rule, timestamps and JSON encoding shared by all of these objects are objects.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tutorforge.core.ids import sha256_file
from tutorforge.core.logs import get_logger
from tutorforge.registry.aliases import Decide, alias_history, back_to_previous, list_aliases, read_alias, update_alias
from tutorforge.registry.manifest import MANIFEST, check_file_keys, check_manifest, confined, content_digest
from tutorforge.registry.objects import VERSION_RE, dumps, now_iso
from tutorforge.registry.store import MB, PreconditionFailed, RegistryError, Store, VerificationError

log = get_logger("tutorforge.registry.registry")
CLAIM = "_claim.json"


class VersionConflict(RegistryError):
    """The version is already published or claimed by another registration."""


def version_sort_key(v: str) -> tuple[int, int, str]:
    """v1 < v2 < v10, after any version not named v<N>."""
    m = re.fullmatch(r"v(\d+)", v)
    return (1, int(m.group(1)), v) if m else (0, 0, v)


def collect_files(sources: Mapping[str, str | Path]) -> dict[str, Path]:
    """{registry path: local file} from {registry prefix: local dir or file}; hidden files skipped."""
    out: dict[str, Path] = {}
    for dest, src in sources.items():
        src = Path(src)
        if src.is_file():
            out[dest] = src
        elif src.is_dir():
            for p in sorted(src.rglob("*")):
                rel = p.relative_to(src)
                if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                    out[f"{dest}/{rel.as_posix()}"] = p
        else:
            raise FileNotFoundError(f"registry input {src} ({dest}) does not exist")
    return out


class Registry:
    """Versions, aliases and history of models in one store."""

    def __init__(self, store: Store, claim_ttl_s: float = 3600.0, alias_retries: int = 5):
        self.store = store
        self.claim_ttl_s = claim_ttl_s
        self.alias_retries = alias_retries

    # ---- reading
    def models(self) -> list[str]:
        return self.store.list_dirs("models")

    def versions(self, name: str) -> list[str]:
        """Published versions (those with a manifest), oldest first."""
        cands = [d for d in self.store.list_dirs(f"models/{name}") if d != "aliases"]
        with ThreadPoolExecutor(8) as ex:
            has = list(ex.map(lambda v: self.store.size(f"models/{name}/{v}/{MANIFEST}") is not None, cands))
        return sorted((v for v, h in zip(cands, has, strict=True) if h), key=version_sort_key)

    def manifest(self, name: str, version: str) -> dict[str, Any]:
        """The version's manifest, checked (manifest.py): a bad key is a VerificationError naming it."""
        if not VERSION_RE.match(name) or not VERSION_RE.match(version):
            raise RegistryError(f"bad model or version name {name!r}:{version!r}")
        got = self.store.get(f"models/{name}/{version}/{MANIFEST}")
        if got is None:
            raise RegistryError(f"{name}:{version} not found in {self.store.uri()} (no manifest)")
        try:
            m = json.loads(got[0])
        except ValueError:
            raise VerificationError(f"{name}:{version}: {MANIFEST} is not valid JSON") from None
        return check_manifest(m, f"{name}:{version}")

    def read_file(self, name: str, version: str, path: str) -> bytes:
        m = self.manifest(name, version)
        if path not in m["files"]:
            raise RegistryError(f"{name}:{version} has no file {path!r}")
        got = self.store.get(f"models/{name}/{version}/{m['objects']}/{path}")
        if got is None:
            raise VerificationError(f"{name}:{version}: object for {path} is missing")
        return got[0]

    def resolve(self, name: str, ref: str) -> str:
        """A version name or an alias name -> version."""
        if not VERSION_RE.match(ref):
            raise RegistryError(f"{name}: bad version or alias name {ref!r}")
        if self.store.size(f"models/{name}/{ref}/{MANIFEST}") is not None:
            return ref
        alias = self.alias(name, ref)
        if alias:
            version = alias.get("version")
            if not isinstance(version, str) or not VERSION_RE.match(version):
                raise RegistryError(f"{name}: alias {ref!r} points to a bad version name {version!r}")
            return version
        raise RegistryError(f"{name}: no version or alias {ref!r} in {self.store.uri()}")

    # ---- registering
    def _claim(self, name: str, version: str, upload_id: str) -> None:
        key = f"models/{name}/{version}/{CLAIM}"
        body = dumps(
            {
                "upload_id": upload_id,
                "created_at": now_iso(),
                "ts": time.time(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
        )
        try:
            self.store.put(key, body, if_none_match=True)
            self._check_claim(name, version, upload_id)
            return
        except PreconditionFailed:
            pass
        if self.store.size(f"models/{name}/{version}/{MANIFEST}") is not None:
            raise VersionConflict(f"{name}:{version} is already registered (immutable)")
        got = self.store.get(key)
        if got is not None:
            cur = json.loads(got[0])
            age = time.time() - float(cur.get("ts", 0))
            if age < self.claim_ttl_s:
                raise VersionConflict(
                    f"{name}:{version} is being registered by upload {cur.get('upload_id')} "
                    f"(claimed {age:.0f}s ago at {cur.get('created_at')}; stale after "
                    f"{self.claim_ttl_s:.0f}s)"
                )
            try:  # stale claim: take it over by CAS, so two takers cannot both win
                self.store.put(key, body, if_match=got[1])
                self._check_claim(name, version, upload_id)
                log.warning(
                    "%s:%s: took over a stale claim of upload %s (%.0fs old)", name, version, cur.get("upload_id"), age
                )
                return
            except PreconditionFailed as e:
                raise VersionConflict(f"{name}:{version}: another registration took over the stale claim") from e
        self.store.put(key, body, if_none_match=True)  # claim vanished in between: one more plain try

    def _check_claim(self, name: str, version: str, upload_id: str) -> None:
        got = self.store.get(f"models/{name}/{version}/{CLAIM}")
        holder = json.loads(got[0]).get("upload_id") if got else None
        if holder != upload_id:
            raise VersionConflict(f"{name}:{version}: claim lost to upload {holder} (this upload: {upload_id})")

    def _abandon(self, name: str, version: str, upload_id: str) -> None:
        """Best effort after an error: remove this upload's objects and release its claim."""
        base = f"models/{name}/{version}"
        with contextlib.suppress(Exception):
            for k in self.store.list(f"{base}/objects/{upload_id}/"):
                self.store.delete(k)
            got = self.store.get(f"{base}/{CLAIM}")
            if got and json.loads(got[0]).get("upload_id") == upload_id:
                self.store.delete(f"{base}/{CLAIM}")

    def find_content(self, name: str, digest: str) -> str | None:
        for v in reversed(self.versions(name)):
            try:
                m = self.manifest(name, v)
            except VerificationError as e:  # a damaged version must not block new registrations
                log.warning("%s (skipped when looking for identical content)", e)
                continue
            if m.get("content_digest") == digest:
                return v
        return None

    def register(
        self,
        name: str,
        sources: Mapping[str, str | Path],
        extra: dict[str, bytes] | None = None,
        version: str | None = None,
        lineage_summary: dict[str, Any] | None = None,
    ) -> tuple[str, bool]:
        """Upload `sources` (+ small generated files `extra`) as an immutable version; returns (version, created).

        Byte-identical payload already registered -> (that version, False).
        """
        if not VERSION_RE.match(name):
            raise RegistryError(f"bad model name {name!r}")
        files = collect_files(sources)
        check_file_keys([*files, *(extra or {})], f"{name}: registry paths to upload")  # the rules downloads enforce
        with tempfile.TemporaryDirectory(prefix="tf-register-") as tmp:
            for rel, data in (extra or {}).items():
                p = Path(tmp) / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
                files[rel] = p
            with ThreadPoolExecutor(4) as ex:
                digests = list(ex.map(sha256_file, files.values()))
            meta = {
                rel: {"sha256": d, "size": p.stat().st_size} for (rel, p), d in zip(files.items(), digests, strict=True)
            }
            digest = content_digest(meta)
            existing = self.find_content(name, digest)
            if existing:
                log.info("%s: identical content already registered as %s", name, existing)
                return existing, False
            upload_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
            version = self._claim_version(name, version, upload_id)
            try:
                self._upload(name, version, upload_id, files, meta, digest, lineage_summary)
            except Exception:
                self._abandon(name, version, upload_id)
                raise
        log.info("%s:%s published (%s)", name, version, self.store.uri(f"models/{name}/{version}/{MANIFEST}"))
        return version, True

    def _upload(
        self,
        name: str,
        version: str,
        upload_id: str,
        files: dict[str, Path],
        meta: dict[str, Any],
        digest: str,
        lineage_summary: dict[str, Any] | None,
    ) -> None:
        base = f"models/{name}/{version}"
        total = sum(m["size"] for m in meta.values())
        log.info(
            "%s:%s: uploading %d files (%.1f MB) to %s",
            name,
            version,
            len(files),
            total / MB,
            self.store.uri(f"{base}/objects/{upload_id}/"),
        )
        t0 = time.perf_counter()

        def up(item: tuple[str, Path]) -> None:
            self.store.upload_file(item[1], f"{base}/objects/{upload_id}/{item[0]}")

        # big files first so the pool stays busy
        order = sorted(files.items(), key=lambda kv: -meta[kv[0]]["size"])
        with ThreadPoolExecutor(max(1, self.store.transfer.max_files_parallel)) as ex:
            list(ex.map(up, order))
        dt = time.perf_counter() - t0
        log.info(
            "%s:%s: uploaded %.1f MB in %.1fs (%.1f MB/s)", name, version, total / MB, dt, total / MB / max(dt, 1e-9)
        )
        manifest = {
            "format": 1,
            "name": name,
            "version": version,
            "created_at": now_iso(),
            "upload_id": upload_id,
            "objects": f"objects/{upload_id}",
            "content_digest": digest,
            "files": meta,
            "total_size": total,
            "lineage": lineage_summary or {},
        }
        self._check_claim(name, version, upload_id)  # a stale claimant whose claim was taken over stops here
        try:
            self.store.put(f"{base}/{MANIFEST}", dumps(manifest), if_none_match=True)
        except PreconditionFailed as e:
            raise VersionConflict(f"{name}:{version} was published by another registration first") from e

    def _claim_version(self, name: str, version: str | None, upload_id: str) -> str:
        if version is not None:
            if not VERSION_RE.match(version) or version == "aliases":
                raise RegistryError(f"bad version name {version!r}")
            self._claim(name, version, upload_id)
            return version
        published = [version_sort_key(v)[1] for v in self.versions(name)]
        n = max(published, default=0)
        for _ in range(20):  # skip versions claimed by concurrent registrations
            n += 1
            try:
                self._claim(name, f"v{n}", upload_id)
                return f"v{n}"
            except VersionConflict as e:
                log.info("v%d unavailable (%s); trying the next one", n, e)
        raise VersionConflict(f"{name}: no free version after v{n}")

    # ---- verification / download
    def verify(self, name: str, version: str, deep: bool = False) -> list[str]:
        """Problems found (empty = OK): sizes via HEAD; deep=True also downloads and hashes every file."""
        m = self.manifest(name, version)
        problems = []
        for rel, f in m["files"].items():
            key = f"models/{name}/{version}/{m['objects']}/{rel}"
            size = self.store.size(key)
            if size is None:
                problems.append(f"{rel}: missing")
            elif size != f["size"]:
                problems.append(f"{rel}: size {size} != {f['size']}")
        if deep and not problems:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    self.download(name, version, Path(tmp) / "v")
                except VerificationError as e:
                    problems.append(str(e))
        return problems

    def download(self, name: str, ref: str, dest: str | Path) -> Path:
        """Download into `dest` (must not exist) via a temp sibling; every sha256 verified or nothing is left.

        Every manifest key is checked before anything is written (manifest.py), and each local path is resolved
        inside the temp folder; only when every file matches its checksum is the folder renamed to `dest`."""
        version = self.resolve(name, ref)
        m = self.manifest(name, version)
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise RegistryError(f"destination {dest} exists and is not empty")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
        try:
            outs = {rel: confined(tmp, rel, f"{name}:{version}") for rel in m["files"]}

            def get(item: tuple[str, dict[str, Any]]) -> None:
                rel, f = item
                out = outs[rel]
                out.parent.mkdir(parents=True, exist_ok=True)
                self.store.download_file(f"models/{name}/{version}/{m['objects']}/{rel}", out)
                size, digest = out.stat().st_size, sha256_file(out)
                if size != f["size"] or digest != f["sha256"]:
                    raise VerificationError(
                        f"{name}:{version}: {rel} is corrupted (sha256 {digest[:12]}…, "
                        f"{size} B; manifest says {f['sha256'][:12]}…, {f['size']} B)"
                    )

            with ThreadPoolExecutor(max(1, self.store.transfer.max_files_parallel)) as ex:
                list(ex.map(get, sorted(m["files"].items())))
            (tmp / MANIFEST).write_bytes(dumps(m))
            if dest.exists():
                dest.rmdir()
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("%s:%s verified (%d files) -> %s", name, version, len(m["files"]), dest)
        return dest

    # ---- aliases (records, CAS update and history: aliases.py)
    def alias(self, name: str, alias: str) -> dict[str, Any] | None:
        return read_alias(self.store, name, alias)

    def aliases(self, name: str) -> dict[str, dict[str, Any]]:
        return list_aliases(self.store, name)

    def history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        return alias_history(self.store, name, alias)

    def set_alias(
        self, name: str, alias: str, decide: Decide, action: str, actor: str | None = None
    ) -> dict[str, Any] | None:
        """CAS loop: `decide(current)` -> (new version, reason) or None (no change); retried on conflicts."""
        return update_alias(self.store, name, alias, decide, action, actor, self.alias_retries)

    def point(self, name: str, alias: str, version: str, reason: str, actor: str | None = None) -> dict[str, Any]:
        self.manifest(name, version)  # must exist
        return self.set_alias(name, alias, lambda cur: (version, reason), "set", actor)  # type: ignore[return-value]

    def rollback(self, name: str, alias: str, reason: str = "rollback", actor: str | None = None) -> dict[str, Any]:
        decide = back_to_previous(name, alias, reason)
        return self.set_alias(name, alias, decide, "rollback", actor)  # type: ignore[return-value]
