"""A throwaway copy of the project for flow tests: code, data, dvc.yaml and a params.yaml shrunk to tiny steps.

`dvc init --no-scm` makes it its own DVC repo, so flows run `dvc repro` there without touching /work/main's lock,
cache or artifacts. The copy holds the `tutorforge` library too: dvc.yaml lists its domain folders as stage deps, and
`python -m stages.<name>` run in the copy imports the copy's library. Ingest's per-document cache lives in the main
repo's .cache/test-flows-ingest, so the OCR runs once per machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tutorforge.core.config import yaml_load

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/support/<this file>)
COPY = [
    "tutorforge",
    "stages",
    "flows",
    "data/textbooks",
    "data/annotations",
    "data/benchmarks",
    "dvc.yaml",
    "params.yaml",
    "sky",
]

# Smallest settings that still run every stage for real (a few optimizer steps, tiny evaluation).
SHRINK = {
    "ingest": {"ocr_dpi": 200, "cache_dir": str(ROOT / ".cache" / "test-flows-ingest")},  # OCR once per machine
    "pretrain": {
        "profile": "tiny",  # from scratch: the SmolLM2 default is the slow tests' job (tests/test_default_run.py)
        "max_steps": 4,
        "batch_size": 2,
        "block_size": 128,
        "eval_steps": 0,
        "save_steps": 0,
        "warmup_steps": 1,
        "logging_steps": 2,
    },
    "sft": {
        "profile": "tiny",
        "max_steps": 2,
        "eval_steps": 0,
        "save_steps": 0,
        "logging_steps": 1,
        "max_eval_examples": 8,
        "merge": True,
    },
    "evaluate": {
        "profile": "tiny",  # the from-scratch models pretrain/sft train under their tiny profile
        "max_ppl_tokens": 1024,
        "max_answer_items": 8,
        "max_generate_items": 2,
        "max_socratic_items": 2,
        "max_tool_items": 1,
        "max_mc_items": 4,
        "max_new_tokens": 8,
        "report_samples": 1,
        "bench_max_items": {"short_answer": 1, "mc": 2, "socratic": 1, "tools": 1, "grounded": 1},
        "mmlu_max_per_subject": 1,
        "max_subject_items": 2,
    },
    "diagrams": {"families_per_label": 3, "image_size": 64},  # 22 labels x 3 families x 3 styles
    "vision": {
        "steps": 3,
        "encoder": {
            "image_size": 32,
            "patch_size": 16,
            "vision_hidden": 48,
            "vision_layers": 1,
            "vision_heads": 3,
            "vision_intermediate": 96,
            "text_hidden": 48,
            "text_layers": 1,
            "text_max_length": 16,
            "vocab_size": 512,
        },
    },  # fmt: skip
    "vision_eval": {"latency_items": 2},
    "select": {"max_pool": 40, "batch_size": 5, "n_clusters": 2, "embedder": "model", "max_new_tokens": 4},
    "orchestration": {"retries": 0, "lock_poll_s": 1},
}


def make_repo(dst: Path, registry: Path | None = None, shrink: dict | None = None) -> Path:
    """Copy the project into `dst` with params shrunk by `shrink` (default SHRINK), init DVC without git; returns dst."""
    dst.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rel in COPY:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dst / rel, ignore=ignore)
        elif src.exists():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    params = yaml_load((dst / "params.yaml").read_text())  # 1e-4 stays a number
    for section, values in (SHRINK if shrink is None else shrink).items():
        if section in params:
            params[section].update({k: v for k, v in values.items()})
            chosen = (params[section].get("profiles") or {}).get(params[section].get("profile"))
            for key in set(values) & set(chosen or {}):  # a shrunk key beats the selected profile's value
                del chosen[key]
    if "register" in params:
        params["register"]["registry"] = str(registry or dst / "registry")
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=dst, check=True)
    subprocess.run([dvc, "config", "core.analytics", "false"], cwd=dst, check=True)
    return dst


def set_param(repo: Path, section: str, key: str, value: object) -> None:
    """Set (or, with None, remove) `section.key` in the copy's params.yaml."""
    params = yaml_load((repo / "params.yaml").read_text())
    if value is None:
        params[section].pop(key, None)
    else:
        params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
