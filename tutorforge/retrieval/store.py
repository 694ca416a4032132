"""A textbook index on disk: chunks.jsonl + index.faiss + manifest.json, verified on load, searched by meaning.

    idx = TextbookIndex.build(chunks, embedder="minilm", factory="Flat")
    idx.save("artifacts/index")                  # files written; manifest.json last, with each file's sha256
    idx = TextbookIndex.load("artifacts/index")
    idx.search("how is kinetic energy calculated?", k=3, subject="physics")
    # [Hit(score=0.68, chunk={"file": "physics.pdf", "page": 4, "heading_path": [...], "text": "...", ...}), ...]

manifest.json: {"format": 1, "embedder": "minilm", "embedder_digest": "12a6...", "dim": 384, "factory": "Flat",
"n_chunks": 131, "files": {"chunks.jsonl": "<sha256>", "index.faiss": "<sha256>"}}. Loading refuses (IndexLoadError,
one line) a missing or edited file, a chunk count that is not the index's, and an encoder whose files differ from the
one the vectors came from. FAISS does the search (exact inner product on L2-normalised MiniLM vectors with the default
"Flat"; any faiss.index_factory string, e.g. "HNSW32" for a large library); a subject filter is a FAISS ID selector,
so the k hits are the best k of that subject, not the best k overall thinned out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.ids import sha256_file
from tutorforge.core.io import read_json, read_jsonl, write_json, write_jsonl
from tutorforge.core.outputs import OutputSet
from tutorforge.retrieval.chunks import embedding_text
from tutorforge.retrieval.embedder import embed, embedder_digest

FORMAT = 1
FILES = ("chunks.jsonl", "index.faiss")


class IndexLoadError(RuntimeError):
    """An index folder that cannot be trusted (missing, edited, or built with another encoder); one-line message."""


@dataclass(frozen=True)
class Hit:
    """One search result: cosine similarity and the chunk record (chunks.py contract)."""

    score: float
    chunk: dict[str, Any]
    position: int = -1
    """The chunk's row in the index (TextbookIndex.vectors)."""


class TextbookIndex:
    """Chunks and their FAISS index; `search` embeds the query with the encoder that embedded the chunks."""

    def __init__(self, chunks: list[dict[str, Any]], index: Any, manifest: dict[str, Any]):
        self.chunks, self.index = chunks, index
        self.manifest: dict[str, Any] = manifest
        self._by_subject: dict[str, Any] = {}

    @classmethod
    def build(
        cls, chunks: list[dict[str, Any]], embedder: str = "minilm", factory: str = "Flat", batch_size: int = 64
    ) -> TextbookIndex:
        """Embed every chunk (heading path + text) and add the vectors to a new index, ids = chunk positions."""
        import faiss

        if not chunks:
            raise ValueError("no chunks to index")
        vectors = embed([embedding_text(c) for c in chunks], embedder, batch_size)
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:  # IVF / PQ factories learn their quantiser from the vectors themselves
            index.train(vectors)
        index.add(vectors)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "embedder": embedder,
            "embedder_digest": embedder_digest(embedder),
            "dim": int(vectors.shape[1]),
            "factory": factory,
            "n_chunks": len(chunks),
        }
        return cls(chunks, index, manifest)

    def save(self, folder: str | Path | OutputSet) -> dict[str, Any]:
        """Write the three files into folder, or where a stage's OutputSet stages them; returns the manifest."""
        import faiss

        out = folder if isinstance(folder, OutputSet) else Path(folder)
        if isinstance(out, Path):
            out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "chunks.jsonl", self.chunks)
        faiss.write_index(self.index, str(out / "index.faiss"))
        self.manifest = self.manifest | {"files": {name: sha256_file(out / name) for name in FILES}}
        write_json(out / "manifest.json", self.manifest)
        return self.manifest

    @classmethod
    def load(cls, folder: str | Path, embedder: str | None = None) -> TextbookIndex:
        """Read and verify an index folder; `embedder` (default: the manifest's) must be the encoder it was built with."""
        import faiss

        root = Path(folder)
        try:
            manifest = read_json(root / "manifest.json", dict)
        except FileNotFoundError:
            raise IndexLoadError(f"{root}: no manifest.json (build it with `python -m stages.index`)") from None
        except (ValueError, json.JSONDecodeError) as e:
            raise IndexLoadError(f"{root}/manifest.json: not a JSON object ({e})") from None
        if manifest.get("format") != FORMAT:
            raise IndexLoadError(f"{root}/manifest.json: format {manifest.get('format')!r}, this code reads {FORMAT}")
        for name in FILES:
            want = (manifest.get("files") or {}).get(name)
            if not (root / name).is_file():
                raise IndexLoadError(f"{root}/{name}: missing")
            if want != sha256_file(root / name):
                raise IndexLoadError(f"{root}/{name}: sha256 differs from manifest.json (edited or corrupt)")
        name = embedder or manifest["embedder"]
        if manifest.get("embedder_digest") and embedder_digest(name) not in (None, manifest["embedder_digest"]):
            raise IndexLoadError(
                f"{root}: built with encoder {manifest['embedder']!r} (digest {manifest['embedder_digest'][:12]}), "
                f"but {name!r} has other files: its vectors would not match"
            )
        chunks = list(read_jsonl(root / "chunks.jsonl"))
        index = faiss.read_index(str(root / "index.faiss"))
        if index.ntotal != len(chunks) or index.ntotal != manifest.get("n_chunks") or index.d != manifest.get("dim"):
            raise IndexLoadError(
                f"{root}: index holds {index.ntotal} vectors of {index.d} dims, chunks.jsonl {len(chunks)} chunks, "
                f"manifest {manifest.get('n_chunks')} x {manifest.get('dim')}"
            )
        return cls(chunks, index, manifest | {"embedder": name})

    def vectors(self, positions: list[int]) -> Any:
        """The stored (L2-normalised) vectors of the chunks at these rows, as a float32 array."""
        import numpy as np

        return (
            np.stack([self.index.reconstruct(int(i)) for i in positions]) if positions else np.zeros((0, self.index.d))
        )

    def rerank(self, hits: list[Hit], text: str) -> list[Hit]:
        """The hits ordered by similarity to `text` (e.g. the question with its answer), best first."""
        if not hits:
            return []
        scores = self.vectors([h.position for h in hits]) @ embed([text], self.manifest["embedder"])[0]
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [Hit(float(scores[i]), hits[i].chunk, hits[i].position) for i in order]

    @property
    def subjects(self) -> list[str]:
        return sorted({c["subject"] for c in self.chunks})

    def search(self, query: str, k: int = 3, subject: str | None = None) -> list[Hit]:
        """The k chunks most similar to query (of one subject when given), best first."""
        return self.search_many([query], k, subject)[0]

    def search_many(self, queries: list[str], k: int = 3, subject: str | None = None) -> list[list[Hit]]:
        """search() for several queries in one encoder batch and one FAISS call."""
        import faiss
        import numpy as np

        if k < 1 or not queries:
            return [[] for _ in queries]
        params = None
        if subject is not None:
            if subject not in self._by_subject:
                ids = np.array([i for i, c in enumerate(self.chunks) if c["subject"] == subject], dtype=np.int64)
                self._by_subject[subject] = (faiss.IDSelectorBatch(ids), len(ids))
            selector, n = self._by_subject[subject]
            if n == 0:
                return [[] for _ in queries]
            params = faiss.SearchParameters()
            params.sel = selector
        vectors = embed(queries, self.manifest["embedder"])
        scores, ids = self.index.search(vectors, min(k, self.index.ntotal), params=params)
        return [
            [Hit(float(s), self.chunks[int(i)], int(i)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]
