"""Object stores for the model registry: an S3 bucket/prefix (or any S3-compatible endpoint) or a local directory,
behind one small key/value interface with the conditional writes the registry protocol (registry.py) is built on.

    store = open_store("s3://bucket/team/registry", "http://127.0.0.1:5000", Transfer(max_files_parallel=4))
    store.put("models/tutor/v1/_claim.json", body, if_none_match=True)   # PreconditionFailed if the key exists
    store.put("models/tutor/aliases/production.json", body, if_match=etag)  # PreconditionFailed if it changed

Every store has: get(key) -> (bytes, etag) | None, size(key) (HEAD), put(key, data, if_none_match, if_match) -> etag,
upload_file / download_file (multipart and parallel parts on S3, per `Transfer`), list(prefix) (all keys below),
list_dirs(prefix) (one level), delete(key), uri(key). S3: If-None-Match: * and If-Match ETag on PutObject (a 412 or
409 is a PreconditionFailed). Local backend: the same semantics with `os.link` (atomic create-if-absent of a fully
written temp file), fcntl lock files for compare-and-swap, fsync + rename. Keys are relative: a key that is absolute,
has a `.`/`..` part or a NUL is refused by both stores (`check_key`), and a local key must also resolve (symlinks
followed) inside the root. Credentials come only from the AWS environment/config chain (never stored or logged).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024


class RegistryError(RuntimeError):
    """A registry operation that cannot go ahead (clear message for the operator)."""


class PreconditionFailed(RegistryError):
    """A conditional write lost: the key exists (If-None-Match) or changed (If-Match)."""


class VerificationError(RegistryError):
    """A stored file is missing or does not match its manifest checksum/size."""


def check_key(key: str) -> str:
    """`key` if it stays below the store's root/prefix (no leading `/`, no `.`/`..` part, no NUL), else RegistryError."""
    if "\x00" in key or key.startswith("/") or any(part in (".", "..") for part in key.split("/")):
        raise RegistryError(f"bad key {key!r}: keys are relative, without '.' or '..' parts")
    return key


@dataclass
class Transfer:
    """Upload/download tuning (boto3 TransferConfig + a thread pool over files)."""

    multipart_threshold_mb: int = 16
    multipart_chunksize_mb: int = 16
    max_concurrency: int = 8  # threads per file (parts in flight)
    max_files_parallel: int = 4  # files in flight


class LocalStore:
    """A directory as an object store: keys are relative paths; etag = sha256 of the content."""

    def __init__(self, root: str | Path, transfer: Transfer | None = None):
        self.root = Path(root)
        self.transfer = transfer or Transfer()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def uri(self, key: str = "") -> str:
        return str(self.root / key)

    def _p(self, key: str) -> Path:
        path = self.root / check_key(key)
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise RegistryError(f"bad key {key!r}: resolves outside {self.root} (through a symlink)")
        return path

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._p(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return data, hashlib.sha256(data).hexdigest()

    def size(self, key: str) -> int | None:
        p = self._p(key)
        return p.stat().st_size if p.is_file() else None

    def _tmp(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        return Path(tmp)

    @staticmethod
    def _fsync_write(tmp: Path, data: bytes | None = None, src: Path | None = None) -> None:
        with tmp.open("wb") as f:
            if src is not None:
                with src.open("rb") as s:
                    shutil.copyfileobj(s, f, 8 * MB)
            else:
                f.write(data or b"")
            f.flush()
            os.fsync(f.fileno())

    @contextlib.contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def put(self, key: str, data: bytes, if_none_match: bool = False, if_match: str | None = None) -> str:
        path = self._p(key)
        tmp = self._tmp(path)
        try:
            self._fsync_write(tmp, data)
            if if_none_match:  # link() fails if the name exists: atomic create-if-absent of complete content
                try:
                    os.link(tmp, path)
                except FileExistsError as e:
                    raise PreconditionFailed(f"{self.uri(key)} already exists") from e
            elif if_match is not None:
                with self._lock(path):
                    cur = self.get(key)
                    if cur is None or cur[1] != if_match:
                        raise PreconditionFailed(f"{self.uri(key)} changed since it was read")
                    os.replace(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return hashlib.sha256(data).hexdigest()

    def upload_file(self, src: Path, key: str) -> None:
        path = self._p(key)
        tmp = self._tmp(path)
        try:
            self._fsync_write(tmp, src=src)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def download_file(self, key: str, dest: Path) -> None:
        src = self._p(key)
        if not src.is_file():
            raise VerificationError(f"missing object {self.uri(key)}")
        shutil.copyfile(src, dest)

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def list_dirs(self, prefix: str) -> list[str]:
        base = self._p(prefix.rstrip("/"))
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._p(key).unlink()


class S3Store:
    """An S3 bucket/prefix via boto3 (credentials from the standard AWS chain; endpoint for S3-compatible stores)."""

    def __init__(self, uri: str, endpoint_url: str | None = None, transfer: Transfer | None = None):
        import boto3.session
        from botocore.config import Config

        m = re.match(r"^s3://([^/]+)/?(.*)$", uri)
        if not m:
            raise RegistryError(f"not an s3:// URI: {uri!r}")
        self.bucket, self.prefix = m.group(1), m.group(2).strip("/")
        self.endpoint_url = endpoint_url
        self.transfer = transfer or Transfer()
        pool = max(10, self.transfer.max_concurrency * self.transfer.max_files_parallel + 4)
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(max_pool_connections=pool, retries={"max_attempts": 5, "mode": "standard"}),
        )

    def __repr__(self) -> str:
        return f"S3Store({self.uri()!r}, endpoint={self.endpoint_url!r})"

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    @staticmethod
    def _code(e: Exception) -> str:
        return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return r["Body"].read(), r["ETag"]

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._k(key))["ContentLength"])
        except ClientError as e:
            if self._code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, key: str, data: bytes, if_none_match: bool = False, if_match: str | None = None) -> str:
        from botocore.exceptions import ClientError

        kw: dict[str, Any] = {"IfNoneMatch": "*"} if if_none_match else {}
        if if_match is not None:
            kw["IfMatch"] = if_match
        try:
            r = self.client.put_object(
                Bucket=self.bucket, Key=self._k(key), Body=data, ContentType="application/json", **kw
            )
        except ClientError as e:  # 412 PreconditionFailed; 409 ConditionalRequestConflict (concurrent write)
            if self._code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise PreconditionFailed(f"{self.uri(key)}: conditional write refused ({self._code(e)})") from e
            if if_match is not None and self._code(e) in ("NoSuchKey", "404"):
                raise PreconditionFailed(f"{self.uri(key)} vanished since it was read") from e
            raise
        return r["ETag"]

    def _config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        t = self.transfer
        return TransferConfig(
            multipart_threshold=t.multipart_threshold_mb * MB,
            multipart_chunksize=t.multipart_chunksize_mb * MB,
            max_concurrency=t.max_concurrency,
            use_threads=t.max_concurrency > 1,
        )

    def upload_file(self, src: Path, key: str) -> None:
        self.client.upload_file(str(src), self.bucket, self._k(key), Config=self._config())

    def download_file(self, key: str, dest: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._k(key), str(dest), Config=self._config())
        except ClientError as e:
            if self._code(e) in ("404", "NoSuchKey", "NotFound"):
                raise VerificationError(f"missing object {self.uri(key)}") from e
            raise

    def list(self, prefix: str) -> list[str]:
        keys, strip = [], len(self._k(""))
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._k(prefix)):
            keys += [o["Key"][strip:] for o in page.get("Contents", [])]
        return sorted(keys)

    def list_dirs(self, prefix: str) -> list[str]:
        full = self._k(prefix.rstrip("/") + "/")
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full, Delimiter="/"
        ):
            out += [p["Prefix"][len(full) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(out)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))


Store = LocalStore | S3Store


def resolve_endpoint(explicit: str | None = None, params_value: str | None = None) -> str | None:
    """--endpoint-url > TUTORFORGE_S3_ENDPOINT_URL > AWS_ENDPOINT_URL > params."""
    return (
        explicit
        or os.environ.get("TUTORFORGE_S3_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL")
        or params_value
        or None
    )


def open_store(location: str | Path, endpoint_url: str | None = None, transfer: Transfer | None = None) -> Store:
    """`s3://bucket/prefix` -> S3Store, anything else -> LocalStore (a directory)."""
    loc = str(location)
    if loc.startswith("s3://"):
        return S3Store(loc, resolve_endpoint(endpoint_url), transfer)
    return LocalStore(loc, transfer)
