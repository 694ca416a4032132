"""Sections -> retrieval chunks: word windows that never cross a page, so every hit cites exactly one page.

    chunk_records(sections, page_labels, words=120, overlap=30, min_words=8)
    # [{"chunk_id": "5e1f0c2a9b7d4e11", "section_id": "3beff218d7933ed1", "doc_id": "a39673882e1934a4",
    #   "file": "biology.pdf", "page": 2, "page_label": "1", "subject": "biology",
    #   "heading_path": ["Chapter 1 Cells and Tissues", "1.1 What Is a Cell?"], "start": 0, "end": 742,
    #   "text": "Chapter 1 Cells and Tissues\n1.1 What Is a Cell?\nA cell is defined as ..."}, ...]

`start`/`end` are character offsets into the page's text (ingest's pages.jsonl), as segment's spans are, so
`page["text"][start:end] == text` for every chunk: a citation can point at the exact passage on its page. Windows overlap by `overlap` words so a fact cut by one window
boundary is whole in the next; a page part shorter than `min_words` (a heading alone at the foot of a page) is dropped
unless it is all the section has.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tutorforge.core.ids import stable_id

WORD = re.compile(r"\S+")


def windows(n_words: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) word windows of `size` covering n_words, consecutive ones sharing `overlap` words."""
    if size <= overlap:
        raise ValueError(f"chunk size ({size}) must exceed the overlap ({overlap})")
    out, start = [], 0
    while True:
        end = min(start + size, n_words)
        out.append((start, end))
        if end >= n_words:
            return out
        start = end - overlap


def page_parts(section: dict[str, Any]) -> list[tuple[dict[str, int], str]]:
    """(span, text) per page of a section: segment writes `text == "\n".join(page_text[start:end] per span)`, so
    the parts are cut back out of the section text in span order."""
    out, offset = [], 0
    for span in section["spans"]:
        n = span["end"] - span["start"]
        out.append((span, section["text"][offset : offset + n]))
        offset += n + 1
    return out


def section_chunks(
    section: dict[str, Any], page_labels: dict[tuple[str, int], str], words: int, overlap: int, min_words: int
) -> list[dict[str, Any]]:
    """The chunks of one section (segment contract), in reading order."""
    out = []
    parts = [(span, part) for span, part in page_parts(section) if part.strip()]
    for span, part in parts:
        tokens = [(m.start(), m.end()) for m in WORD.finditer(part)]
        if len(tokens) < min_words and len(parts) > 1:
            continue
        page = span["page"]
        for a, b in windows(len(tokens), words, overlap):
            start, end = span["start"] + tokens[a][0], span["start"] + tokens[b - 1][1]  # offsets into the page text
            out.append(
                {
                    "chunk_id": stable_id(section["section_id"], page, start, end),
                    "section_id": section["section_id"],
                    "doc_id": section["doc_id"],
                    "file": section["file"],
                    "page": page,
                    "page_label": page_labels.get((section["doc_id"], page), str(page)),
                    "subject": section["subject"],
                    "heading_path": list(section["heading_path"]),
                    "start": start,
                    "end": end,
                    "text": part[tokens[a][0] : tokens[b - 1][1]],
                }
            )
    return out


def chunk_records(
    sections: Iterable[dict[str, Any]],
    page_labels: dict[tuple[str, int], str],
    words: int = 120,
    overlap: int = 30,
    min_words: int = 8,
) -> list[dict[str, Any]]:
    """Every section's chunks, sections in input order; chunk ids are unique (a repeat is a bug upstream)."""
    out = [c for s in sections for c in section_chunks(s, page_labels, words, overlap, min_words)]
    seen: set[str] = set()
    for c in out:
        if c["chunk_id"] in seen:
            raise ValueError(f"duplicate chunk {c['chunk_id']} (section {c['section_id']}, page {c['page']})")
        seen.add(c["chunk_id"])
    return out


def loose_pages(
    sections: list[dict[str, Any]], pages: Iterable[dict[str, Any]], skip: set[tuple[str, int]]
) -> list[dict[str, Any]]:
    """Pages no section covers (front matter such as "How to Use This Book", which segment leaves out of the
    curriculum sections) as one-page section records, so a tutor can cite them too; `skip` (contents pages) excluded.

    The heading is the page's first line; the subject is the one its book's sections mostly have.
    """
    covered = {(s["doc_id"], sp["page"]) for s in sections for sp in s["spans"]}
    subjects: dict[str, Counter[str]] = {}
    for s in sections:
        subjects.setdefault(s["doc_id"], Counter())[s["subject"]] += 1
    out = []
    for p in pages:
        key = (p["doc_id"], int(p["page"]))
        start = len(p["text"]) - len(p["text"].lstrip())
        text = p["text"].strip()
        if key in covered or key in skip or not text:
            continue
        first = text.split("\n", 1)[0].strip()
        out.append(
            {
                "section_id": stable_id(p["doc_id"], "page", p["page"]),
                "doc_id": p["doc_id"],
                "file": p["file"],
                "subject": (subjects.get(p["doc_id"]) or Counter({"unknown": 1})).most_common(1)[0][0],
                "heading_path": [first[:90]],
                "text": text,
                "spans": [{"page": int(p["page"]), "start": start, "end": start + len(text)}],
            }
        )
    return out


def embedding_text(chunk: dict[str, Any]) -> str:
    """What is embedded for a chunk: its heading path, then its text (the heading names the topic a window may
    only imply: "1.3 Diffusion and Osmosis" above a paragraph that says "this process")."""
    return " > ".join(chunk["heading_path"]) + "\n" + chunk["text"]
