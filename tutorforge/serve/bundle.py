"""What `tutorforge serve` serves: the SFT model and its textbook index, from the registry or a local folder.

    bundle = resolve_bundle(cfg, register_cfg)
    # Bundle(model_id="tutorforge-tutor:v3", model_dir=.cache/serve/tutorforge-tutor/v3/sft/merged,
    #        index_dir=.cache/serve/tutorforge-tutor/v3/index, version="v3", content_digest="9f2c...",
    #        vision_dir=.cache/serve/tutorforge-tutor/v3/vision/encoder)

A registry version is downloaded once (Registry.download: every file's sha256 checked, renamed into place only when
all match); on later starts the cached copy is checked again against the manifest saved with it, and a copy that no
longer matches (a file edited or cut short on disk) is set aside and downloaded anew.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.ids import sha256_file
from tutorforge.core.io import read_json
from tutorforge.core.logs import get_logger
from tutorforge.serve.config import ServeConfig

log = get_logger("serve")
REGISTRY_PREFIX = "registry:"


class BundleError(RuntimeError):
    """Nothing servable at the configured place (one-line message for the operator)."""


@dataclass(frozen=True)
class Bundle:
    model_id: str
    """The id /v1/models lists and chat requests name ("tutorforge-tutor:v3", or the local folder's name)."""
    model_dir: Path
    """HF model folder (config.json, weights, tokenizer)."""
    index_dir: Path
    """Textbook index folder (chunks.jsonl, index.faiss, manifest.json)."""
    version: str | None = None
    """Registry version, when served from the registry."""
    content_digest: str | None = None
    """The registry version's content digest (what was verified)."""
    dataset_dir: Path | None = None
    """The SFT splits the model came with (dataset/sft: train.jsonl teaches the tool gate which requests want which
    tool, test.jsonl holds make_quiz's held-out questions); None when the bundle has none."""
    vision_dir: Path | None = None
    """The diagram encoder the version carries (<version>/vision/encoder, holding a config.json): what reads images
    when serve.vision_encoder is ""; None when the bundle has none (then images are not read)."""


def cached_copy_ok(folder: Path) -> bool:
    """A downloaded version still matches the manifest saved beside its files (sizes and sha256)."""
    try:
        manifest = read_json(folder / "manifest.json", dict)
    except (OSError, ValueError):
        return False
    files: dict[str, Any] = manifest.get("files") or {}
    for rel, meta in files.items():
        path = folder / rel
        if not path.is_file() or path.stat().st_size != meta.get("size") or sha256_file(path) != meta.get("sha256"):
            log.warning("cached %s: %s differs from its manifest", folder, rel)
            return False
    return bool(files)


def from_registry(ref: str, cfg: ServeConfig, register_cfg: Any) -> Bundle:
    """Resolve `ref` (alias or version) in the [register] registry and return its verified local copy."""
    from tutorforge.registry.register import open_registry
    from tutorforge.registry.store import RegistryError

    name = register_cfg.name
    try:
        reg = open_registry(register_cfg)
        version = reg.resolve(name, ref)
        dest = Path(cfg.cache_dir) / name / version
        if dest.exists() and not cached_copy_ok(dest):
            stale = dest.with_name(f".{version}.stale.{int(time.time())}")
            dest.rename(stale)  # set aside, not deleted under a possibly running server; removed below
            shutil.rmtree(stale, ignore_errors=True)
        if not dest.exists():
            reg.download(name, version, dest)
        manifest = reg.manifest(name, version)
    except RegistryError as e:
        raise BundleError(f"registry {name}:{ref}: {e}") from None
    return Bundle(
        f"{name}:{version}",
        dest / "sft" / "merged",
        dest / "index",
        version,
        manifest.get("content_digest"),
        dataset_folder(dest),
        vision_folder(dest),
    )


def dataset_folder(root: Path) -> Path | None:
    """<root>/dataset/sft (the SFT splits a registry version and `artifacts` both carry), if present."""
    path = root / "dataset" / "sft"
    return path if path.is_dir() else None


def vision_folder(root: Path) -> Path | None:
    """<root>/vision/encoder (the vision stage's encoder, as a registry version carries it), if it holds a model."""
    path = root / "vision" / "encoder"
    return path if (path / "config.json").is_file() else None


def resolve_bundle(cfg: ServeConfig, register_cfg: Any) -> Bundle:
    """The bundle cfg.model names (see ServeConfig.model); `cfg.index` overrides the bundle's index."""
    if cfg.model.startswith(REGISTRY_PREFIX):
        bundle = from_registry(cfg.model.removeprefix(REGISTRY_PREFIX) or "production", cfg, register_cfg)
    else:
        root = Path(cfg.model)
        if (root / "sft" / "merged" / "config.json").is_file():
            bundle = Bundle(
                root.resolve().name,
                root / "sft" / "merged",
                root / "index",
                dataset_dir=dataset_folder(root),
                vision_dir=vision_folder(root),
            )
        elif (root / "config.json").is_file():
            bundle = Bundle(root.resolve().name, root, Path(cfg.index or root / "index"))
        else:
            raise BundleError(f"serve.model: {root} holds no model (no config.json, no sft/merged/config.json)")
    if cfg.index:
        bundle = dataclasses.replace(bundle, index_dir=Path(cfg.index))
    if not (bundle.index_dir / "manifest.json").is_file():
        raise BundleError(f"no textbook index at {bundle.index_dir} (run `python -m stages.index` or set serve.index)")
    return bundle
