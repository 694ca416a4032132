"""Heading and table-of-contents detection on page text (used by `tutorforge.segment.sections`).

Pure functions over plain data, no PDF library needed:
- `page_lines(page)`: the lines of a page record with char offsets and (when ingest gave them) font size / bold.
- `is_toc_page(lines)`: a printed table of contents ("Contents" title, lines ending in page numbers / dot leaders).
- `detect_headings(pages_lines, ...)`: numbered / font-size headings ("Chapter 4", "2.3 Title", "IV. Title").
- `locate_title(title, lines, ...)`: where an outline (bookmark) title sits on its page, tolerant of OCR noise.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any


@dataclass(frozen=True)
class Line:
    """One line of a page: `text[start:end]` of the page, plus font info (size None when unknown)."""

    start: int
    end: int
    text: str
    size: float | None = None
    bold: bool = False
    ocr: bool = False


@dataclass(frozen=True)
class Heading:
    """A heading: page index (0-based in the document's page list), char offset of its line, level, title, and
    whether numbering ("Chapter 2", "2.3") rather than font alone made it a heading."""

    page: int
    offset: int
    level: int
    title: str
    numbered: bool = False


def is_numbered(title: str) -> bool:
    """ "Chapter 2 ...", "Unit IV", "2.3 ...", "3 ...", "IV. ..." (for outline titles)."""
    t = squash(title)
    return bool(CHAPTER_RE.match(t) or NUMBERED_RE.match(t) or ROMAN_RE.match(t) or SINGLE_RE.match(t))


def front_matter_end(heads: list[Heading]) -> int:
    """Index of the first numbered level-1 heading (the first chapter); 0 when there is none. Unnumbered
    headings before it (the title page, "Preface", "How to Use This Book") are front matter."""
    return next((k for k, h in enumerate(heads) if h.level == 1 and h.numbered), 0)


_NUMWORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_SEP = r"[\s:.\-\u2013\u2014]*"
KEYWORD_RE = re.compile(r"chapter|unit|part|module|lesson", re.I)
CHAPTER_RE = re.compile(
    rf"^(chapter|unit|part|module|lesson)\s*(\d{{1,3}}|[ivxlc]{{1,7}}\b|{_NUMWORDS}){_SEP}(.*)$", re.I
)
NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\s?\.\s?\d{1,2}){1,3})\.?\s+(.+)$")
ROMAN_RE = re.compile(r"^([IVXLC]{1,6})[.)]\s+(.+)$")
SINGLE_RE = re.compile(r"^(\d{1,2})[.)]?\s+(.+)$")
TOC_TITLE_RE = re.compile(r"^(table\s+of\s+)?contents$", re.I)
TOC_ENTRY_RE = re.compile(r"(\.{2,}|\u2026|\s)\s*([0-9]{1,4}|[ivxlc]{1,6})\s*$", re.I)
TOC_TAIL_RE = re.compile(r"(?:[.\u2026\u00b7]\s?)*\s*(?:\d{1,4}|[ivxlc]{1,6})?", re.I)
LEADER_RE = re.compile(r"(\.\s?){3,}|\u2026")


def norm(s: str) -> str:
    """Lowercase alphanumerics, everything else collapsed to one space (for fuzzy comparisons)."""
    s = unicodedata.normalize("NFKC", s).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", s).split())


def squash(s: str) -> str:
    """Collapse runs of whitespace to one space (display form of a heading)."""
    return " ".join(s.split())


def page_lines(page: dict[str, Any]) -> list[Line]:
    """Split `page["text"]` into lines; attach size/bold from ingest's `lines` (matched by start offset)."""
    text = page["text"]
    ocr = page.get("method") == "ocr"
    info: dict[int, tuple[float | None, bool]] = {}
    for rec in page.get("lines") or []:
        seg = text[rec["start"] : rec["end"]]
        info[rec["start"] + (len(seg) - len(seg.lstrip()))] = (rec.get("size"), bool(rec.get("bold")))
    out, pos = [], 0
    for raw in text.split("\n"):
        lead = len(raw) - len(raw.lstrip())
        size, bold = info.get(pos + lead, info.get(pos, (None, False)))
        out.append(Line(pos, pos + len(raw), raw, float(size) if size else None, bold, ocr))
        pos += len(raw) + 1
    return out


def is_toc_page(lines: list[Line], min_entries: int = 4, entry_ratio: float = 0.5) -> bool:
    """A printed table of contents: a "Contents" title near the top and entries ending in page numbers,
    or (without the title) mostly dot-leader entries."""
    body: list[str] = []
    for ln in lines:
        t = squash(ln.text)
        if t and body and TOC_TAIL_RE.fullmatch(t):  # leaders / page number extracted as lines of their own
            body[-1] = f"{body[-1]} {t}"
        elif t:
            body.append(t)
    if not body:
        return False
    entries = [t for t in body if TOC_ENTRY_RE.search(t) and re.search(r"[A-Za-z]{3}", t)]
    leaders = [t for t in entries if LEADER_RE.search(t)]
    titled = any(TOC_TITLE_RE.match(t) for t in body[:5])
    if titled and len(entries) >= min_entries - 1 and len(entries) >= entry_ratio * (len(body) - 1):
        return True
    return len(leaders) >= min_entries and len(leaders) >= entry_ratio * len(body)


def _well_formed(title: str, max_words: int) -> bool:
    t = title.strip()
    words = t.split()
    return (
        bool(words)
        and len(words) <= max_words
        and t[0].isupper()
        and bool(re.search(r"[A-Za-z]{2}", t))
        and t[-1] not in ".,;:"
        and sum(c.isdigit() for c in t) <= len(t) // 3
    )


def body_sizes(pages_lines: list[list[Line]]) -> dict[bool, float | None]:
    """Body font size, weighted by characters: the most common size (0.5pt bins) on text pages, the weighted
    median of line-box heights on OCR pages (they are noisy, a mode would be arbitrary)."""
    out: dict[bool, float | None] = {}
    for ocr in (False, True):
        c: Counter[float] = Counter()
        for lines in pages_lines:
            for ln in lines:
                if ln.ocr == ocr and ln.size and ln.text.strip():
                    c[round(ln.size * 2) / 2] += len(ln.text.strip())
        if not c:
            out[ocr] = None
        elif not ocr:
            out[ocr] = max(c.items(), key=lambda kv: (kv[1], -kv[0]))[0]
        else:
            half, acc = sum(c.values()) / 2, 0
            for size in sorted(c):
                acc += c[size]
                if acc >= half:
                    out[ocr] = size
                    break
    return out


def detect_headings(
    pages_lines: list[list[Line]],
    *,
    chapter_ratio: float = 1.6,
    section_ratio: float = 1.15,
    subsection_ratio: float = 1.05,
    max_chars: int = 90,
    max_words: int = 14,
    max_level: int = 3,
    skip_pages: frozenset[int] = frozenset(),
) -> list[Heading]:
    """Headings from numbering patterns and font size relative to the body size (per text/OCR pages).

    Level 1: "Chapter/Unit/Part/Module/Lesson N[: Title]", a large font (>= chapter_ratio x body), or a
    large "N Title" / "IV. Title". Level k: "a.b[.c] Title" (k = number of components). Unnumbered lines in a
    mid-size font (>= section_ratio x body) are level 2, short bold ones slightly bigger (>= subsection_ratio) 3.
    On text pages of a document whose numbered headings are styled (bold or bigger), unstyled numbered lines
    are list items, not headings. OCR pages have no bold and noisy sizes, so numbering carries them.
    """
    body = body_sizes(pages_lines)
    cands = []
    for p, lines in enumerate(pages_lines):
        if p in skip_pages:
            continue
        for i, ln in enumerate(lines):
            t = squash(ln.text)
            if not t or len(t) > max_chars:
                continue
            b = body[ln.ocr]
            rel = ln.size / b if (ln.size and b) else None
            if rel is not None and rel < (0.7 if ln.ocr else 0.97):
                continue  # headings are never smaller than the body text (running headers, captions)
            if (
                rel is not None
                and not ln.ocr
                and not ln.bold
                and rel < subsection_ratio
                and not (t[0].isdigit() or t[0] in "IVXLC" or KEYWORD_RE.match(t))
            ):
                continue  # plain body line (fast path)
            cands.append((p, i, ln, t, rel))
    styled_doc = any(
        NUMBERED_RE.match(t) and not ln.ocr and (ln.bold or (rel or 0) >= section_ratio) for _, _, ln, t, rel in cands
    )
    out: list[Heading] = []
    chapter_no: int | None = None
    last_num: tuple[int, ...] = ()
    prev_line: tuple[int, int, int] = (-1, -1, 0)  # (page, line index, level) of the last heading line
    chapter_title = ""
    for p, i, ln, t, rel in cands:
        if prev_line[:2] == (p, i - 1) and prev_line[2] == -1:
            prev_line = (p, i, 0)
            continue  # title line already taken by "Chapter N" above it
        nxt = squash(pages_lines[p][i + 1].text) if i + 1 < len(pages_lines[p]) else ""
        if KEYWORD_RE.fullmatch(t) and re.match(r"(\d{1,3}|[IVXLC]{1,7})\b", nxt):  # OCR split "Chapter" / "2 Title"
            t, nxt, prev_line = f"{t} {nxt}", "", (p, i, -1)
        big = rel is not None and rel >= chapter_ratio
        mid = rel is not None and rel >= (section_ratio + (0.15 if ln.ocr else 0.0))
        styled = big or mid or ln.bold
        fontinfo = rel is not None and not ln.ocr
        level, title, by_number = 0, t, True
        if m := CHAPTER_RE.match(t):
            rest = m.group(3).strip()
            if (rest and not styled and not _well_formed(rest, max_words)) or (fontinfo and styled_doc and not styled):
                continue  # "Chapter 2 describes how..." in body text
            if (
                not rest
                and nxt
                and _well_formed(nxt, max_words)
                and len(nxt) <= max_chars
                and not NUMBERED_RE.match(nxt)
            ):  # "Chapter 2" / "Cells and Tissues" on two lines
                rest, prev_line = nxt, (p, i, -1)
            title = f"{m.group(1)} {m.group(2)} {rest}".strip()  # "CHAPTER 4: Forces" / OCR "Chapter 3." alike
            if norm(title) == chapter_title:
                continue  # the running header repeating the current chapter
            level = 1
            if m.group(2).isdigit():
                chapter_no = int(m.group(2))
            last_num = (chapter_no,) if chapter_no is not None else ()
        elif m := NUMBERED_RE.match(t):
            nums = tuple(int(x) for x in re.split(r"\s?\.\s?", m.group(1)))
            if not _well_formed(m.group(2), max_words) or (fontinfo and styled_doc and not styled):
                continue
            if chapter_no is not None and nums[0] not in (chapter_no, chapter_no + 1):
                continue
            if last_num and nums[0] == last_num[0] and nums <= last_num:
                continue
            level, last_num = len(nums), nums
            if nums[0] != chapter_no:
                chapter_no = nums[0]
        elif (m := ROMAN_RE.match(t) or SINGLE_RE.match(t)) and _well_formed(m.group(2), max_words):
            if big or (mid and (ln.bold or ln.ocr)) or (rel is None and m.group(2).isupper()):
                level = 1
        elif _well_formed(t, max_words) and not ln.text[:1].isspace():
            sub = ln.bold and rel is not None and rel >= subsection_ratio and len(t.split()) <= 8
            level, by_number = (1 if big else 2 if mid else 3 if sub else 0), False
            if ln.ocr and (level != 1 or len(t.split()) > 8):  # OCR line heights are too noisy for less
                level = 0
            if level and prev_line[:2] == (p, i - 1) and out and out[-1].level == level:
                out[-1] = Heading(out[-1].page, out[-1].offset, level, f"{out[-1].title} {t}", False)  # wrapped
                prev_line = (p, i, level)
                continue
        if 0 < level <= max_level:
            out.append(Heading(p, ln.start, level, squash(title), by_number))
            if level == 1:
                chapter_title = norm(title)
            if prev_line[:2] != (p, i):
                prev_line = (p, i, level)
    return out


def _strip_number(s: str) -> str:
    m = CHAPTER_RE.match(s) or NUMBERED_RE.match(s) or ROMAN_RE.match(s)
    return (m.groups()[-1] if m else s).strip()


def locate_title(title: str, lines: list[Line], min_offset: int = 0, threshold: float = 0.8) -> int | None:
    """Char offset of the line holding `title` (at or after `min_offset`), else None.

    Tries, in order: a short line containing the normalised title; the same over two joined lines (wrapped
    titles); a fuzzy match (difflib ratio >= threshold, numbering stripped) for OCR'd text. A bare "Chapter 2"
    line just before the match is taken into the heading.
    """
    nt = norm(title)
    nt_core = norm(_strip_number(title)) or nt
    if not nt:
        return None
    idx = [i for i, ln in enumerate(lines) if ln.start >= min_offset and ln.text.strip()]
    found = None
    for i in idx:
        nl = norm(lines[i].text)
        if nt in nl and len(nl) <= len(nt) + 24 or nt_core and nt_core == norm(_strip_number(lines[i].text)):
            found = i
            break
    if found is None:
        for i in idx:
            if i + 1 < len(lines):
                nl = norm(lines[i].text + " " + lines[i + 1].text)
                if nt in nl and len(nl) <= len(nt) + 24:
                    found = i
                    break
    if found is None:
        best = 0.0
        for i in idx:
            nl = norm(_strip_number(squash(lines[i].text)))
            if not nl or len(nl) > 2 * len(nt_core) + 10:
                continue
            r = SequenceMatcher(None, nt_core, nl, autojunk=False).ratio()
            if r >= threshold and r > best:
                best, found = r, i
    if found is None:
        return None
    prev = found - 1
    while prev >= 0 and not lines[prev].text.strip():
        prev -= 1
    if prev >= 0 and lines[prev].start >= min_offset:
        m = CHAPTER_RE.match(squash(lines[prev].text))
        bare = squash(lines[prev].text)
        if m and not m.group(3).strip() or KEYWORD_RE.fullmatch(bare) or re.fullmatch(r"\d{1,2}(\.\d{1,2})*\.?", bare):
            found = prev
    return lines[found].start
