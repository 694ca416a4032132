"""Segment: pages -> sections (chapters and numbered sections) with exact page spans and a subject.

    records, report = segment_records(pages, documents, SegmentConfig())     # pure: nothing is read or written
    python -m stages.segment                                                 # the stage (reads/writes the files)

Per document: printed table-of-contents pages are detected and left out of every section (reported). Headings
come from the PDF outline when ingest found a valid one (level 1 = chapter; each title is located on its page,
fuzzily for OCR'd text, else the section starts at the page top), otherwise from numbering ("Chapter 4",
"2.3 Title", "IV. Title") and font size relative to the body size (`tutorforge.segment.headings`). Text before the
first numbered chapter (title page, "Preface", "How to Use This Book") is front matter: skipped by default, or kept
(`front_matter: section`: its headings become sections, untitled text before them an "Introduction").
Sections shorter than `min_chars` merge (a heading with little text into its first child, else into the previous
section of the chapter, else into the next one); longer than `max_chars` split at paragraph boundaries into parts.
Every section keeps `spans` [{page, start, end}] into the pages' text with
`text == "\n".join(page_text[start:end] for each span)`. `section_id` hashes doc_id, heading path and ordinal (not
the text), so text clean-ups keep ids stable. Subject: the first `subject_map` glob that matches the file name (else
the PDF title), else a keyword classifier per section (backing off to the document).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import Fraction, NonNegFloat, PositiveFloat, PositiveInt, section
from tutorforge.core.ids import stable_id
from tutorforge.core.logs import get_logger, progress
from tutorforge.segment.headings import (
    Heading,
    detect_headings,
    front_matter_end,
    is_numbered,
    is_toc_page,
    locate_title,
    norm,
    page_lines,
    squash,
)
from tutorforge.segment.pagetext import PageText, span_text
from tutorforge.segment.subjects import DEFAULT_KEYWORDS, UNKNOWN, SubjectClassifier, map_subject

log = get_logger("segment")


@section("segment")
@dataclass
class SegmentConfig:
    input: str = "artifacts/ingest"
    """Ingest output dir (pages.jsonl + documents.jsonl) or a pages.jsonl file (documents.jsonl read beside it)."""
    output: str = "artifacts/segment"
    """Output dir: sections.jsonl + report.json (replaced atomically as a whole)."""
    subjects: list[str] = field(default_factory=lambda: ["biology", "chemistry", "physics", "mathematics"])
    """Shared subject list (top-level `subjects` in params.yaml)."""
    use_outline: bool = True
    """Use the PDF outline (bookmarks) when ingest reports outline_status "ok"; else detect headings."""
    outline_fill: bool = True
    """When the outline holds chapters only, add the detected deeper headings (numbered / font) inside them."""
    max_level: PositiveInt = 3
    """Deepest heading level that starts a section (deeper headings stay inside their parent)."""
    min_chars: PositiveInt = 200
    """Shorter sections (chars) merge: into their first child if next, else into the previous one of the chapter."""
    max_chars: PositiveInt = 6000
    """Sections longer than this split at paragraph boundaries into parts (part/n_parts)."""
    front_matter: str = "skip"
    """Front matter (text and unnumbered headings before the first "Chapter N"/numbered chapter): "skip" (reported
    in front_matter_pages) or "section" (its headings become sections, untitled text an "Introduction")."""
    chapter_size_ratio: PositiveFloat = 1.6
    """A line whose font is >= this x the body size is a chapter-level (1) heading."""
    section_size_ratio: PositiveFloat = 1.15
    """A line whose font is >= this x the body size is a section-level (2) heading (numbering sets deeper levels)."""
    subsection_size_ratio: PositiveFloat = 1.05
    """A bold line whose font is >= this x the body size is a level-3 heading (text pages only)."""
    max_heading_chars: PositiveInt = 90
    """Longer lines are never headings."""
    max_heading_words: PositiveInt = 14
    """Heading titles with more words are never headings."""
    title_match_threshold: Fraction = 0.8
    """difflib ratio for fuzzy-locating an outline title on its (OCR'd) page."""
    toc_min_entries: PositiveInt = 4
    """A contents page needs at least this many entries ending in a page number."""
    toc_entry_ratio: Fraction = 0.5
    """... and at least this share of its lines being such entries."""
    subject_map: dict[str, str] = field(
        default_factory=lambda: {
            "*biolog*": "biology",
            "*chem*": "chemistry",
            "*physic*": "physics",
            "*math*": "mathematics",
        }
    )
    """Glob (case-insensitive) on the file name, then on the PDF title -> subject; first match wins; else the classifier."""
    subject_keywords: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_KEYWORDS.items()}
    )
    """Keyword (word-prefix) lists per subject for the fallback classifier."""
    subject_min_confidence: Fraction = 0.5
    """Classifier confidence (winner's share of the score) below which the subject is "unknown"."""
    subject_min_score: NonNegFloat = 2.0
    """Total keyword evidence below which the subject is "unknown"."""

    def __post_init__(self) -> None:
        if self.front_matter not in ("skip", "section"):
            raise ValueError(f"segment.front_matter: must be 'skip' or 'section', got {self.front_matter!r}")
        if not 0 < self.min_chars < self.max_chars:
            raise ValueError(f"segment.min_chars: need 0 < min_chars ({self.min_chars}) < max_chars ({self.max_chars})")
        bad = sorted({s for s in self.subject_map.values() if s not in self.subjects})
        if bad:
            raise ValueError(f"segment.subject_map: names subject(s) {bad} not in subjects {self.subjects}")


def segment_document(
    doc: dict[str, Any], pages: list[dict[str, Any]], cfg: SegmentConfig, clf: SubjectClassifier
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Sections of one document (records per the contract) and its report entry."""
    pages = sorted(pages, key=lambda r: r["page"])
    lines = [page_lines(pg) for pg in pages]
    toc = frozenset(p for p, ls in enumerate(lines) if is_toc_page(ls, cfg.toc_min_entries, cfg.toc_entry_ratio))
    pt = PageText(pages, exclude=toc)
    g = pt.text
    rep: dict[str, Any] = {"doc_id": doc["doc_id"], "toc_pages": [pages[p]["page"] for p in sorted(toc)]}

    heads: list[Heading] = []
    outline = doc.get("outline") or []
    if cfg.use_outline and doc.get("outline_status") == "ok" and outline:
        by_page = {pg["page"]: p for p, pg in enumerate(pages)}
        top = min(int(o["level"]) for o in outline)
        located = skipped = 0
        for o in outline:
            level, p = int(o["level"]) - top + 1, by_page.get(o.get("page"))
            if level > cfg.max_level or p is None or p in toc or norm(o["title"]) in ("contents", "table of contents"):
                skipped += 1
                continue
            lo = heads[-1].offset + 1 if heads and heads[-1].page == p else 0
            off = locate_title(o["title"], lines[p], lo, cfg.title_match_threshold)
            located += off is not None
            fallback = heads[-1].offset if lo else 0  # not found: the page top (or where the last heading was)
            heads.append(
                Heading(p, off if off is not None else fallback, level, squash(o["title"]), is_numbered(o["title"]))
            )
        rep.update(
            outline_entries=len(outline),
            outline_located=located,
            outline_page_fallback=len(heads) - located,
            outline_skipped=skipped,
        )
    rep["method"] = "outline" if heads else "headings"
    detected = detect_headings(
        lines,
        chapter_ratio=cfg.chapter_size_ratio,
        section_ratio=cfg.section_size_ratio,
        subsection_ratio=cfg.subsection_size_ratio,
        max_chars=cfg.max_heading_chars,
        max_words=cfg.max_heading_words,
        max_level=cfg.max_level,
        skip_pages=toc,
    )
    if not heads:
        heads = detected
    elif cfg.outline_fill and max(h.level for h in heads) == 1:  # chapters-only outline: add sections
        taken = {(h.page, h.offset) for h in heads}
        first = pt.pos(heads[0].page, heads[0].offset)
        extra = [
            h for h in detected if h.level > 1 and (h.page, h.offset) not in taken and pt.pos(h.page, h.offset) > first
        ]
        heads = sorted(heads + extra, key=lambda h: pt.pos(h.page, h.offset))
        rep["outline_filled"] = len(extra)
    if heads and cfg.front_matter == "skip":  # unnumbered headings before the first "Chapter N" are front matter
        heads = heads[front_matter_end(heads) :]
    if not heads:  # no structure at all: the whole document is one section
        rep["method"] = "whole"
        first = next((p for p in range(len(pages)) if p not in toc), 0)
        heads = [Heading(first, 0, 1, doc.get("title") or Path(doc["file"]).stem)]

    # Regions [start, end) in the global text, with heading paths.
    regions, stack, last = [], [], 0
    for h in heads:
        start = max(last, pt.pos(h.page, h.offset))
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        stack.append((h.level, h.title))
        regions.append({"level": h.level, "path": [t for _, t in stack], "start": start})
        last = start
    for r, nxt in zip(regions, regions[1:] + [{"start": len(g)}], strict=True):
        r["end"] = nxt["start"]
    front = {"level": 1, "path": ["Introduction"], "start": 0, "end": regions[0]["start"]}
    fm_spans = pt.spans(0, front["end"])
    rep["front_matter_pages"] = sorted({sp["page"] for sp in fm_spans})

    def size(r: dict) -> int:
        return pt.size(r["start"], r["end"])

    merged, i = 0, 0
    while i < len(regions) and len(regions) > 1:
        r = regions[i]
        if size(r) >= cfg.min_chars:
            i += 1
            continue
        nxt = regions[i + 1] if i + 1 < len(regions) else None
        prv = regions[i - 1] if i > 0 else None
        if nxt and nxt["path"][: len(r["path"])] == r["path"]:  # a heading with little text before its child
            nxt["start"] = r["start"]
        elif prv and prv["path"][0] == r["path"][0]:  # a short trailing (sub)section stays with what precedes it
            prv["end"] = r["end"]
        elif nxt and nxt["path"][0] == r["path"][0]:
            nxt["start"] = r["start"]
        elif size(r) == 0:  # nothing to lose; keeps the neighbours' text exact
            neighbour = nxt or prv
            assert neighbour is not None  # len(regions) > 1, so r has a neighbour on at least one side
            neighbour.update({"start": r["start"]} if nxt else {"end": r["end"]})
        else:
            i += 1
            continue
        regions.pop(i)
        merged += 1
    if cfg.front_matter == "section" and fm_spans:
        regions.insert(0, front)

    records, seen, n_split = [], Counter(), 0
    mapped = map_subject(doc["file"], cfg.subject_map) or map_subject(doc.get("title") or "", cfg.subject_map)
    doc_subject = clf.classify(g) if mapped is None else (mapped, 1.0)
    for r in regions:
        cuts = pt.split_points(r["start"], r["end"], cfg.max_chars, cfg.min_chars)
        n_split += bool(cuts)
        bounds = [r["start"], *cuts, r["end"]]
        for k, (s, e) in enumerate(zip(bounds, bounds[1:], strict=False), 1):
            spans = pt.spans(s, e)
            if not spans:
                continue
            text = span_text(pages, spans)
            key = " > ".join(r["path"])
            if mapped is not None:
                subject, conf, source = mapped, 1.0, "map"
            else:
                (subject, conf), source = clf.classify(text), "classifier:section"
                if subject == UNKNOWN and doc_subject[0] != UNKNOWN:
                    (subject, conf), source = doc_subject, "classifier:document"
            records.append(
                {
                    "section_id": stable_id(doc["doc_id"], key, seen[key]),
                    "doc_id": doc["doc_id"],
                    "file": doc["file"],
                    "chapter": r["path"][0],
                    "heading_path": r["path"],
                    "level": r["level"],
                    "page_start": spans[0]["page"],
                    "page_end": spans[-1]["page"],
                    "subject": subject,
                    "subject_confidence": conf,
                    "subject_source": source,
                    "text": text,
                    "spans": spans,
                    "n_chars": len(text),
                    "method": rep["method"],
                    "part": k,
                    "n_parts": len(bounds) - 1,
                }
            )
            seen[key] += 1
    rep.update(
        n_sections=len(records),
        merged_short=merged,
        split_long=n_split,
        subjects=dict(sorted(Counter(r["subject"] for r in records).items())),
    )
    return records, rep


def segment_records(
    pages: list[dict[str, Any]], documents: list[dict[str, Any]], cfg: SegmentConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pure: pages + documents records (ingest contract) -> (section records, report). Nothing is written."""
    docs = {d["doc_id"]: d for d in documents}
    by_doc: dict[str, list[dict]] = {}
    for pg in pages:
        by_doc.setdefault(pg["doc_id"], []).append(pg)
    order = sorted(by_doc, key=lambda d: (by_doc[d][0]["file"], d))
    clf = SubjectClassifier(cfg.subjects, cfg.subject_keywords, cfg.subject_min_confidence, cfg.subject_min_score)
    log.info("segmenting %d documents (%d pages)", len(order), len(pages))
    records, per_doc = [], {}
    for doc_id in progress(order, "segment", logger=log, every=1):
        doc = {"doc_id": doc_id, "file": by_doc[doc_id][0]["file"], **docs.get(doc_id, {})}
        recs, rep = segment_document(doc, by_doc[doc_id], cfg, clf)
        records += recs
        per_doc[doc["file"] if doc["file"] not in per_doc else f"{doc['file']} ({doc_id})"] = rep
        log.info("%s: %s, %d sections, toc pages %s", doc["file"], rep["method"], len(recs), rep["toc_pages"])
    report = {
        "n_documents": len(order),
        "n_sections": len(records),
        "mean_section_chars": round(sum(r["n_chars"] for r in records) / max(1, len(records)), 1),
        "sections_per_subject": dict(sorted(Counter(r["subject"] for r in records).items())),
        "sections_per_file": dict(sorted(Counter(r["file"] for r in records).items())),
        "methods": dict(sorted(Counter(d["method"] for d in per_doc.values()).items())),
        "toc_pages_detected": sum(len(d["toc_pages"]) for d in per_doc.values()),
        "documents": dict(sorted(per_doc.items())),  # by file name
    }
    return records, report
