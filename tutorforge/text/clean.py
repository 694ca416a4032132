"""Generic clean-up of extracted page text, per document: NFKC, running headers/footers and page numbers, hyphenation.

Input: for each page of one document, its lines `(text, size_pt, bold, y0, y1)` (y as a share of the page height)
and whether it was OCRed. Output: for each page
the cleaned text ("\\n"-joined lines) and line records `{start, end, size, bold}` (offsets into that text).
Nothing here knows who made the PDF: headers are lines repeated (digits normalised) at the top/bottom of several pages
of the same document inside the top/bottom margin band, in a font no larger than the body text; page numbers are bare
numbers, "Page 12", "- 12 -", "12 / 40" or roman numerals inside that band.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Any

Line = tuple[str, float, bool, float, float]

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_WS = re.compile(r"\s+")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PAGE_NO = re.compile(
    r"(?i)(?:page|p\.|pg\.?|seite)?\s*[-\u2013\u2014(\[]?\s*(\d{1,4}|[ivxlcdm]{1,8})\s*"
    r"[-\u2013\u2014)\]]?(?:\s*(?:/|of)\s*\d{1,4})?"
)
_ROMAN = re.compile(r"(?i)m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_HYPHEN_END = re.compile(r"(?<!\w)(\w*[^\W\d_])[-\u2010\u00ad]$")
_TOKEN = re.compile(r"\w+(?:-\w+)*")
_WORD_START = re.compile(r"([^\W\d_]\w*)(.*)$", re.S)
_STRAY = " |.,:;'`\"_~\u2018\u2019\u201c\u201d\u2013\u2014-"  # what a rule or a speck beside a page number reads as


def normalize_line(text: str) -> str:
    """NFKC (ligatures, full-width forms, NBSP), drop zero-width/control chars, collapse whitespace."""
    return normalize_page([(text, 0.0, False, 0.0, 0.0)])[0][0] if text.strip() else ""


def normalize_page(lines: list[Line]) -> list[Line]:
    """normalize_line for every line of a page (one NFKC call per page); empty lines dropped. A soft hyphen at a
    line end is kept (it marks a hyphenation point for `dehyphenate`), others are removed."""
    joined = unicodedata.normalize("NFKC", "\n".join(ln[0].replace("\n", " ") for ln in lines))
    texts = _CTRL.sub("", joined.translate(_INVISIBLE)).split("\n")
    out = []
    for t, ln in zip(texts, lines, strict=True):
        t = _WS.sub(" ", t).strip()
        t = t[:-1].replace("\u00ad", "") + "\u00ad" if t.endswith("\u00ad") else t.replace("\u00ad", "")
        if t:
            out.append((t, *ln[1:]))
    return out


def is_page_number(text: str) -> bool:
    """A bare page number: "12", "Page 12", "- 12 -", "12 / 40", "p. 7", roman "xiv"."""
    m = _PAGE_NO.fullmatch(text.strip())
    return bool(m) and (m.group(1).isdigit() or bool(_ROMAN.fullmatch(m.group(1))))


def header_key(text: str) -> str:
    """Compare key for running headers: lower case, digits -> #, punctuation dropped, spaces collapsed, bare numbers
    moved to the end (a page number printed at the outer edge is left of the head on even pages and right of it on
    odd ones; counted, so "Chapter 1 Numbers ... 3" in a contents list is not the heading "Chapter 1 Numbers")."""
    toks = re.sub(r"[^\w#]+", " ", re.sub(r"\d+", "#", text.lower())).split()
    words = [w for w in toks if w != "#"]
    return " ".join(words + ["#"] * (len(toks) - len(words)))


def _body_size(pages: list[list[Line]]) -> float:
    """Char-weighted median line size: the body font size (or body line height for OCR pages)."""
    sizes = sorted((ln[1], len(ln[0])) for lines in pages for ln in lines if ln[1] > 0)
    total, acc = sum(n for _, n in sizes), 0
    for s, n in sizes:
        acc += n
        if acc * 2 >= total:
            return s
    return 0.0


def strip_headers(
    pages: list[list[Line]],
    ocr: list[bool],
    margin: float = 0.12,
    min_pages: int = 3,
    min_fraction: float = 0.2,
    max_size_ratio: float = 1.05,
    coverage: float = 0.8,
) -> list[list[Line]]:
    """Remove running headers/footers and page numbers: lines inside the top/bottom `margin` (share of page height),
    in a font no larger than the body's, that are page numbers, repeat (digits normalised) on enough pages of the
    document, or repeat one of its headings (running heads carry the chapter title). On OCR'd pages a band line also
    goes when `coverage` of its words are header/heading words (misread or merged heads) or when it holds no word at
    all (rules and specks read as junk)."""

    def band(ln: Line) -> str | None:
        return "top" if ln[4] <= margin else "bottom" if ln[3] >= 1 - margin else None

    # body size from the lines outside the bands; headers only on pages that have body lines (a page whose only
    # line sits near the top is content, not a header)
    inner = [[ln for ln in lines if band(ln) is None] for lines in pages]
    body = {m: _body_size([p for p, o in zip(inner, ocr, strict=True) if o == m]) for m in (False, True)}
    need = max(2, min(min_pages, math.ceil(min_fraction * len(pages))))

    def side(ln: Line, is_ocr: bool) -> str | None:
        if body[is_ocr] and ln[1] > body[is_ocr] * max_size_ratio:
            return None
        return band(ln)

    counts: dict[str, Counter[str]] = {"top": Counter(), "bottom": Counter()}
    for lines, o, has_body in zip(pages, ocr, inner, strict=True):
        for sd, k in {(sd, header_key(ln[0])) for ln in lines if (sd := side(ln, o))} if has_body else ():
            if k:
                counts[sd][k] += 1
    heads = {sd: {k for k, n in counts[sd].items() if n >= need and len(pages) > 1} for sd in ("top", "bottom")}
    # words of running headers and of headings (running heads repeat the book/chapter title): for OCR'd band lines
    titles = {
        header_key(ln[0])
        for lines, o in zip(pages, ocr, strict=True)
        for ln in lines
        if body[o] and ln[1] > body[o] * max_size_ratio
    }
    words = {w for k in titles | heads["top"] | heads["bottom"] for w in k.split()}

    def running(ln: Line, o: bool, has_body: bool) -> bool:
        sd = side(ln, o)
        if sd is None:
            return False
        if is_page_number(ln[0]) or (o and is_page_number(ln[0].strip(_STRAY))):
            return True
        k = header_key(ln[0])
        if not has_body:
            return False
        if k and (k in heads[sd] or k in titles):  # a repeated line, or a heading repeated small in the band
            return True
        if not o:
            return False
        # OCR: a band line with hardly a letter or digit is scanner junk (rules, specks); one made of header/heading
        # words is a misread or merged running head. A formula ("x2 - 4 = (x + 2)(x - 2);") is neither: body text.
        if sum(ch.isalnum() for ch in ln[0]) < 2:
            return True
        toks = [t for t in k.split() if len(t) > 1 and t.isalpha()]
        return bool(toks) and sum(t in words for t in toks) >= coverage * len(toks)

    return [[ln for ln in lines if not running(ln, o, bool(b))] for lines, o, b in zip(pages, ocr, inner, strict=True)]


def dehyphenate(lines: list[Line], vocab: Counter[str]) -> list[Line]:
    """Join words split at line ends ("photo-" / "synthesis" -> "photosynthesis"); a hyphen is kept when the
    hyphenated form occurs elsewhere in the document and the joined form does not ("well-" / "known")."""
    out = list(lines)
    i = 0
    while i < len(out) - 1:
        text = out[i][0]
        m = _HYPHEN_END.search(text[-64:]) if text[-1] in "-\u2010\u00ad" else None
        n = _WORD_START.match(out[i + 1][0])
        if m and n and n.group(1)[0].islower():
            soft = text.endswith("\u00ad")
            left, right = m.group(1), n.group(1)
            keep = not soft and vocab[f"{left}-{right}".lower()] > 0 and vocab[(left + right).lower()] == 0
            out[i] = (text[:-1] + ("-" if keep else "") + right, *out[i][1:])
            rest = n.group(2).strip()
            if rest:
                out[i + 1] = (rest, *out[i + 1][1:])
            else:
                out.pop(i + 1)
                continue
        i += 1
    return [(ln[0].replace("\u00ad", ""), *ln[1:]) for ln in out]


def clean_document(
    pages: list[list[Line]], ocr: list[bool], normalized: bool = False, **header_opts: Any
) -> list[tuple[str, list[dict]]]:
    """Clean all pages of one document; returns (text, line records) per page. `normalized`: the lines already went
    through normalize_page (ingest does that in its page workers)."""
    norm = pages if normalized else [normalize_page(lines) for lines in pages]
    norm = strip_headers(norm, ocr, **header_opts)
    vocab: Counter[str] = Counter()
    if any(ln[0][-1] in "-\u2010\u00ad" for lines in norm for ln in lines):
        vocab.update(w.lower() for lines in norm for w in _TOKEN.findall("\n".join(ln[0] for ln in lines)))
    result = []
    for lines in norm:
        lines = dehyphenate(lines, vocab)
        recs, pos = [], 0
        for t, s, b, _, _ in lines:
            recs.append({"start": pos, "end": pos + len(t), "size": round(float(s), 1), "bold": bool(b)})
            pos += len(t) + 1
        result.append(("\n".join(ln[0] for ln in lines), recs))
    return result
