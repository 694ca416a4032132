"""Registry upload throughput: parallel multipart (params [register] transfer settings) vs boto3 defaults, sequential.

    .venv/bin/python -m benchmarks.registry                    # 2 x 400 MB + 8 small json files (~1 GB) to moto
    .venv/bin/python -m benchmarks.registry --big-mb 50        # quick run

Starts its own moto S3 server (`moto_server`, a separate process) on 127.0.0.1, writes a model-like directory of
random bytes, then in the same run and against the same server:
  baseline   boto3 `client.upload_file` per file, one file after another, default TransferConfig
  tuned      tutorforge.registry.store upload path: files in a thread pool, each with TransferConfig from params
  register   the full `Registry.register` (sha256 of every file + claim + upload + manifest)
and prints the median MB/s of --repeat interleaved rounds and the ratios against the baseline. Objects are deleted
between runs (moto keeps them in RAM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model_dir(path: Path, big_files: int, big_mb: int, small_files: int) -> int:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(big_files):
        with (path / f"model-{i + 1:05d}-of-{big_files:05d}.safetensors").open("wb") as f:
            for _ in range(big_mb):
                f.write(os.urandom(1 << 20))
    for i in range(small_files):
        (path / f"config-{i}.json").write_text(f'{{"key_{i}": "{"x" * 4000}"}}\n')
    return sum(p.stat().st_size for p in path.iterdir())


def wipe(client, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=o["Key"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big-files", type=int, default=2)
    ap.add_argument("--big-mb", type=int, default=400)
    ap.add_argument("--small-files", type=int, default=8)
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--workdir", default=None, help="where the model dir is written (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (all runs interleaved); the median is reported")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="FILESxPARTSxMB",
        help="extra tuned settings to time, e.g. 2x4x16 (files in flight x parts per file x part MB)",
    )
    args = ap.parse_args(argv)

    import boto3
    from botocore.config import Config

    from tutorforge.core.config import load_config
    from tutorforge.registry.register import RegisterConfig, transfer_settings
    from tutorforge.registry.registry import Registry
    from tutorforge.registry.store import S3Store, Transfer

    cfg = load_config(RegisterConfig, "register", args.params)
    transfer = transfer_settings(cfg)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tf-bench-registry-"))
    t0 = time.perf_counter()
    total = make_model_dir(work / "model", args.big_files, args.big_mb, args.small_files)
    mb = total / 2**20
    print(f"model dir: {mb:.0f} MB in {len(list((work / 'model').iterdir()))} files ({time.perf_counter() - t0:.1f}s)")

    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    log = (work / "moto.log").open("wb")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        client = boto3.client("s3", endpoint_url=url, config=Config(max_pool_connections=64))
        client.create_bucket(Bucket="bench")
        files = sorted((work / "model").iterdir(), key=lambda p: -p.stat().st_size)
        variants = [transfer] + [
            Transfer(int(c), int(c), int(b), int(a)) for a, b, c in (v.lower().split("x") for v in args.variant)
        ]
        results: dict[str, list[float]] = {}

        def timed(label: str, fn) -> None:
            t0 = time.perf_counter()
            fn()
            results.setdefault(label, []).append(time.perf_counter() - t0)
            wipe(client, "bench")

        def parallel(store: S3Store) -> None:
            with ThreadPoolExecutor(store.transfer.max_files_parallel) as ex:
                list(ex.map(lambda p: store.upload_file(p, p.name), files))

        for r in range(args.repeat):  # round-robin, so a machine that slows down hurts every row alike
            timed(
                "baseline: boto3 upload_file, sequential, default TransferConfig",
                lambda: [client.upload_file(str(p), "bench", f"baseline/{p.name}") for p in files],
            )
            for i, t in enumerate(variants):
                timed(
                    f"tuned{' (params)' if i == 0 else ''}: {t.max_files_parallel} files x {t.max_concurrency} "
                    f"parts in flight, {t.multipart_chunksize_mb} MB parts",
                    lambda t=t, i=i: parallel(S3Store(f"s3://bench/tuned{i}", url, t)),
                )
            timed(
                "register: sha256 + claim + tuned upload + manifest",
                lambda r=r: Registry(S3Store(f"s3://bench/registry{r}", url, transfer)).register(
                    "bench", {"model": work / "model"}
                ),
            )
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    import statistics

    med = {k: statistics.median(v) for k, v in results.items()}
    base = next(iter(med.values()))
    print(
        f"\n{'run (median of ' + str(args.repeat) + ')':<78} {'seconds':>8} {'MB/s':>8} {'x baseline':>10}  all runs (s)"
    )
    for name, s in med.items():
        print(f"{name:<78} {s:8.1f} {mb / s:8.1f} {base / s:10.2f}  {' '.join(f'{x:.1f}' for x in results[name])}")
    print(
        f"(same moto server, same run; {os.cpu_count()} CPU cores; moto is a single Python process, so on a small "
        "machine the server, not the client, bounds throughput)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
