"""The register job: upload the evaluated model as an immutable version of the model registry and move `staging`
(and, with `auto_promote`, `production` through the gate). The DVC stage is stages/register.py.

    cfg = load_config(RegisterConfig, "register", "params.yaml")
    record = register(cfg)     # {"name": "tutorforge-tutor", "version": "v1", "uri": ..., "staging": "v1", ...}

Uploads sft/merged, sft/adapter, pretrain/model, tokenizer, metrics.json, a model card (README.md) and lineage.json
(git commit + dirty flag, dvc.lock md5s of every upstream stage, their params.yaml sections, annotation snapshot id,
training data counts) under `models/<name>/<version>/`; manifest.json is written last (see registry.py for the
race-safe protocol). Byte-identical payload already registered -> that version again. Registry location: env
TUTORFORGE_REGISTRY > `register.registry`; S3 endpoint: env TUTORFORGE_S3_ENDPOINT_URL > AWS_ENDPOINT_URL >
`register.endpoint_url` (`open_registry`, shared with `tutorforge registry ...`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tutorforge.core.config import NonNegFloat, NonNegInt, PositiveInt, section
from tutorforge.core.ids import sha256_file, stable_id
from tutorforge.core.io import dumps, read_json
from tutorforge.core.logs import get_logger
from tutorforge.registry.gate import promote
from tutorforge.registry.registry import Registry
from tutorforge.registry.store import Transfer, open_store, resolve_endpoint

log = get_logger("tutorforge.registry.register")


@section("register")
@dataclass
class RegisterConfig:
    name: str = "tutorforge-tutor"
    """Model name in the registry (models/<name>/...)."""
    registry: str = "registry"
    """Registry root: a local dir or s3://bucket/prefix (env TUTORFORGE_REGISTRY overrides)."""
    endpoint_url: str | None = None
    """S3-compatible endpoint (env TUTORFORGE_S3_ENDPOINT_URL / AWS_ENDPOINT_URL override); null = AWS."""
    artifacts: dict[str, str] = field(
        default_factory=lambda: {
            "sft/merged": "artifacts/sft/merged",
            "sft/adapter": "artifacts/sft/adapter",
            "pretrain/model": "artifacts/pretrain/model",
            "tokenizer": "artifacts/tokenizer",
            "index": "artifacts/index",
            "dataset/sft": "artifacts/dataset/sft",
            "vision/encoder": "artifacts/vision/encoder",
        }
    )
    """Registry path -> local HF dir (or file) uploaded into the version; `index` is the textbook index the model is
    served with (stages/index.py), versioned beside it, and `dataset/sft` the SFT splits (the served tutor's make_quiz
    draws from the held-out test.jsonl), `vision/encoder` the diagram encoder the served tutor reads images with."""
    metrics: str = "artifacts/evaluate/metrics.json"
    """evaluate's metrics (uploaded as metrics.json; the promotion gate reads it)."""
    data_report: str = "artifacts/dataset/data_report.json"
    """Training data counts for lineage.json."""
    annotations: str = "data/annotations"
    """Folder of Label Studio snapshots; every *.json in it is hashed into the annotation snapshot id."""
    output: str = "artifacts/register/registration.json"
    """Where this registration is recorded (DVC out, not cached)."""
    version: str | None = None
    """Explicit version name; null = next after the highest (v1, v2, ...)."""
    staging_alias: str = "staging"
    """Alias moved to the registered version."""
    auto_promote: bool = False
    """Also run the promotion gate to `production` after registering."""
    gate: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"metric": "sft.bench.answer_loss", "direction": "lower", "margin": 0.02},
            {"metric": "sft.bench.tool_call_accuracy", "direction": "higher", "margin": 0.0},
            {"metric": "sft.mmlu.overall", "direction": "higher", "margin": -0.05},
        ]
    )
    """Promotion rules over flattened metrics.json keys: {metric, direction: lower|higher, margin, threshold?}."""
    multipart_threshold_mb: PositiveInt = 16
    """Files above this go up as multipart uploads."""
    multipart_chunksize_mb: PositiveInt = 16
    """Part size (S3 minimum 5 MB, at most 10,000 parts per file)."""
    max_concurrency: PositiveInt = 8
    """Parts in flight per file."""
    max_files_parallel: PositiveInt = 4
    """Files in flight."""
    claim_ttl_s: NonNegFloat = 3600.0
    """A version claim older than this (a crashed upload) may be taken over."""
    alias_retries: NonNegInt = 5
    """Compare-and-swap retries on concurrent alias updates before giving up."""


def _git(*args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def upstream_stages(dvc_yaml: dict[str, Any], stage: str = "register") -> list[str]:
    """Ancestors of `stage` in dvc.yaml (an out of A that is, or contains, a dep of B makes A upstream of B)."""
    stages = dvc_yaml.get("stages") or {}
    paths = lambda items: [next(iter(x)) if isinstance(x, dict) else x for x in items or []]  # noqa: E731
    outs = {n: paths(s.get("outs")) + paths(s.get("metrics")) + paths(s.get("plots")) for n, s in stages.items()}
    deps = {n: paths(s.get("deps")) for n, s in stages.items()}
    if stage not in deps:
        deps[stage] = []
    seen, todo = set(), [stage]
    while todo:
        cur = todo.pop()
        for n, os_ in outs.items():
            if (
                n not in seen
                and n != stage
                and any(
                    d == o or d.startswith(o.rstrip("/") + "/") or o.startswith(d.rstrip("/") + "/")
                    for d in deps.get(cur, [])
                    for o in os_
                )
            ):
                seen.add(n)
                todo.append(n)
    return sorted(seen)


def build_lineage(
    cfg: RegisterConfig, params_path: str = "params.yaml", dvc_yaml: str = "dvc.yaml", dvc_lock: str = "dvc.lock"
) -> dict[str, Any]:
    """Everything needed to trace the model back to code, data and params (no secrets: paths, hashes, counts)."""
    load = lambda p: (yaml.safe_load(Path(p).read_text()) or {}) if Path(p).exists() else {}  # noqa: E731
    dag, lock, params = load(dvc_yaml), load(dvc_lock), load(params_path)
    ups = upstream_stages(dag)
    lock_stages = lock.get("stages") or {}
    hashes = {
        s: {kind: {e["path"]: e.get("md5") for e in lock_stages[s].get(kind) or []} for kind in ("deps", "outs")}
        for s in ups
        if s in lock_stages
    }
    used = {"register"}
    for s in ups:
        for p in dag["stages"][s].get("params") or []:
            used |= {next(iter(p)) if isinstance(p, dict) else str(p).split(".")[0]}
    snaps = sorted(str(p) for p in Path(cfg.annotations).glob("*.json"))
    for snap in snaps:  # a folder or a named pipe (hashing one would block forever) named *.json
        if not Path(snap).is_file():
            raise FileNotFoundError(f"{snap} is not a regular file (annotation snapshots are hashed into lineage)")
    snap_id = sha256_file_list(snaps)
    report = read_json(cfg.data_report, expect=dict) if Path(cfg.data_report).exists() else {}
    counts = {
        k: {s: v.get("records") for s, v in (report.get(k) or {}).items() if isinstance(v, dict)}
        for k in ("pretrain", "sft")
    }
    counts |= {k: report[k] for k in ("sft_by_source", "removed_counts") if k in report}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "upstream_stages": ups,
        "dvc_lock": hashes,
        "dvc_lock_missing": [s for s in ups if s not in lock_stages],
        "params": {k: params[k] for k in sorted(used) if k in params},
        "annotation_snapshot": {"id": snap_id, "files": [os.path.basename(p) for p in snaps]},
        "data_counts": counts,
    }


def sha256_file_list(paths: list[str]) -> str | None:
    """One id for a set of files (names + contents); None when there are none."""
    if not paths:
        return None
    return stable_id(*(f"{os.path.basename(p)}:{sha256_file(p)}" for p in sorted(paths)), length=16)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """{"bench.answer_loss": 1.9, ...}: the numeric leaves of a nested metrics dict."""
    if isinstance(d, dict):
        return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix[:-1]: d} if isinstance(d, int | float) and not isinstance(d, bool) else {}


def evaluation_table(metrics: dict[str, Any]) -> str:
    """The models side by side (one column each, then delta) over every numeric metric evaluate wrote for them."""
    models = [k for k, v in metrics.items() if isinstance(v, dict) and k not in CARD_RESERVED]
    cols = {m: _flat(metrics[m]) for m in models} | {"delta": _flat(metrics.get("delta", {}))}
    keys = sorted({k for m in models for k in cols[m]})
    head = f"| metric | {' | '.join(cols)} |\n|---|{'---|' * len(cols)}"
    body = [f"| {k} | " + " | ".join(f"{cols[c].get(k, '')}" for c in cols) + " |" for k in keys]
    return "\n".join([head, *body])


# evaluate's metrics.json entries that are not a model's scores
CARD_RESERVED = {"delta", "benchmark", "counts", "per_subject", "notes", "reference", "paired"}


def model_card(cfg: RegisterConfig, metrics: dict[str, Any], lineage: dict[str, Any]) -> str:
    """README.md for the version: intended use, data, evaluation table, limitations, lineage."""
    c = lineage.get("data_counts", {})
    bench = metrics.get("benchmark") or {}
    scored_on = (
        f"frozen benchmark {bench.get('name')}-{bench.get('version')} (digest {str(bench.get('digest'))[:12]}), "
        "MMLU high-school items (forgetting guard), teachers' subject labels and the dataset's held-out split"
        if bench
        else "the dataset's held-out split"
    )
    return f"""# {cfg.name}

A tutoring language model trained by the TutorForge pipeline: a base model (by default SmolLM2-135M-Instruct,
optionally after continued pretraining on the textbook text) supervised fine-tuned (LoRA, merged) on synthetic and
teacher-annotated tutoring dialogues (Q&A, Socratic hints, multiple choice, tool calls).

## Intended use
Answering and guiding school students on the subjects of the source textbooks, in English, with a teacher in the
loop. Not for unsupervised use with children, medical/legal advice, or topics outside the textbooks.

## Data
- Textbooks and Label Studio annotation snapshot `{lineage.get("annotation_snapshot", {}).get("id")}`
  ({len(lineage.get("annotation_snapshot", {}).get("files", []))} export files).
- Pretraining records per split: {c.get("pretrain")}; SFT examples per split: {c.get("sft")};
  SFT by source: {c.get("sft_by_source")}.

## Evaluation
Scored on the {scored_on}.

{evaluation_table(metrics)}

answer_loss_reduction (held-out): {metrics.get("answer_loss_reduction")}

## Limitations
A small model fine-tuned on a few textbooks: it hallucinates, may state answers it should withhold in Socratic mode
or pick the wrong tool, and is only measured on the sets above. Check the evaluation before promotion.

## Lineage
git commit `{lineage.get("git_commit")}` (dirty: {lineage.get("git_dirty")}); upstream stages:
{", ".join(lineage.get("upstream_stages", []))}. Full details in `lineage.json`.
"""


def transfer_settings(cfg: RegisterConfig) -> Transfer:
    """The upload/download tuning of params [register]."""
    return Transfer(cfg.multipart_threshold_mb, cfg.multipart_chunksize_mb, cfg.max_concurrency, cfg.max_files_parallel)


def open_registry(cfg: RegisterConfig, location: str | None = None, endpoint_url: str | None = None) -> Registry:
    """The registry of params [register]. Location: `location` > env TUTORFORGE_REGISTRY > cfg.registry; endpoint:
    `endpoint_url` > env TUTORFORGE_S3_ENDPOINT_URL > AWS_ENDPOINT_URL > cfg.endpoint_url."""
    loc = location or os.environ.get("TUTORFORGE_REGISTRY") or cfg.registry
    store = open_store(loc, resolve_endpoint(endpoint_url, cfg.endpoint_url), transfer_settings(cfg))
    return Registry(store, cfg.claim_ttl_s, cfg.alias_retries)


def register(cfg: RegisterConfig) -> dict[str, Any]:
    """Upload the version, move staging (and maybe production); returns the registration record (not written)."""
    metrics = read_json(cfg.metrics, expect=dict)
    lineage = build_lineage(cfg)
    reg = open_registry(cfg)
    summary = {
        "git_commit": lineage["git_commit"],
        "git_dirty": lineage["git_dirty"],
        "annotation_snapshot": lineage["annotation_snapshot"]["id"],
        "data_counts": lineage["data_counts"],
    }
    extra = {"README.md": model_card(cfg, metrics, lineage).encode(), "lineage.json": (dumps(lineage) + "\n").encode()}
    sources: dict[str, str | Path] = {**cfg.artifacts, "metrics.json": cfg.metrics}
    version, created = reg.register(cfg.name, sources, extra, cfg.version, summary)
    log.info("%s %s:%s", "registered" if created else "already registered as", cfg.name, version)
    reg.point(cfg.name, cfg.staging_alias, version, f"registered by stages.register ({lineage['git_commit']})")
    if cfg.auto_promote:
        ok, reasons = promote(reg, cfg.name, version, cfg.gate)
        log.info("promotion gate for %s: %s (%s)", version, "passed" if ok else "refused", "; ".join(reasons))
    m = reg.manifest(cfg.name, version)
    aliases = {a: r["version"] for a, r in reg.aliases(cfg.name).items()}
    return {
        "name": cfg.name,
        "version": version,
        "uri": reg.store.uri(f"models/{cfg.name}/{version}/"),
        "content_digest": m["content_digest"],
        "created_at": m["created_at"],
        "files": len(m["files"]),
        "total_size": m["total_size"],
        "staging": aliases.get(cfg.staging_alias),
        "production": aliases.get("production"),
    }
