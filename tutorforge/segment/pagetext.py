"""One document's pages as one string, and back to exact page spans (sections, annotations, provenance).

    doc = PageText(pages, exclude={1})          # pages: pages.jsonl records of ONE document; exclude: list indices
    s = doc.pos(page_index, char_offset)        # global offset in doc.text (pages joined by "\\n")
    spans = doc.spans(s, e)                     # [{page, start, end}] into each page's own `text`
    span_text(pages, spans)                     # "\\n".join(page_text[start:end] for each span)

Spans are whitespace-trimmed at both ends and empty ones dropped, so a section's text never starts or ends
with blank lines, and `span_text` reproduces it exactly.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from typing import Any


class PageText:
    def __init__(self, pages: list[dict[str, Any]], exclude: Iterable[int] = ()) -> None:
        self.pages = pages
        skip = set(exclude)
        self.base = [-1] * len(pages)  # global offset of each kept page (-1: excluded)
        self.idx: list[int] = []  # kept page indices, in order
        pos = 0
        for p, pg in enumerate(pages):
            if p not in skip:
                self.base[p], pos = pos, pos + len(pg["text"]) + 1
                self.idx.append(p)
        self.starts = [self.base[p] for p in self.idx]
        self.text = "\n".join(pages[p]["text"] for p in self.idx)

    def pos(self, page: int, offset: int) -> int:
        if self.base[page] < 0:
            raise ValueError(f"page index {page} is excluded")
        return self.base[page] + offset

    def spans(self, s: int, e: int) -> list[dict[str, int]]:
        """Page spans covering global [s, e), whitespace trimmed at both ends of each span."""
        out = []
        k = max(0, bisect.bisect_right(self.starts, s) - 1)
        while k < len(self.idx) and self.starts[k] < e:
            p = self.idx[k]
            text, b0 = self.pages[p]["text"], self.starts[k]
            a, b = max(s, b0) - b0, min(e, b0 + len(text)) - b0
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a < b:
                out.append({"page": self.pages[p]["page"], "start": a, "end": b})
            k += 1
        return out

    def size(self, s: int, e: int) -> int:
        """Characters of [s, e) that would land in spans (trimmed)."""
        return sum(sp["end"] - sp["start"] for sp in self.spans(s, e))

    def split_points(self, s: int, e: int, max_chars: int, min_chars: int = 0) -> list[int]:
        """Cuts splitting [s, e) into ~equal parts <= max_chars, preferring blank lines / page starts, then
        sentence-ending line breaks, then any line break, then any whitespace (never inside a word if avoidable)."""
        if e - s <= max_chars:
            return []
        target = (e - s) / math.ceil((e - s) / max_chars)
        tiers = [r"\n[ \t]*\n\s*", r"[.!?:]\n\s*", r"\n\s*", r"\s+"]
        cands = [[s + m.end() for m in re.finditer(t, self.text[s:e])] for t in tiers]
        cands[0] = sorted(set(cands[0]) | {b for b in self.starts if s < b < e})
        cuts, cur = [], s
        while e - cur > max_chars:
            goal, lo, hi = cur + target, cur + max(min_chars, target * 0.5), cur + max_chars
            best = next(
                (
                    min((c for c in tier if lo < c <= hi), key=lambda c: abs(c - goal))
                    for tier in cands
                    if any(lo < c <= hi for c in tier)
                ),
                hi,
            )
            cuts.append(best)
            cur = best
        return cuts


def span_text(pages: list[dict[str, Any]], spans: list[dict[str, int]]) -> str:
    """The text a list of spans denotes (pages: records of one document)."""
    by_no = {pg["page"]: pg["text"] for pg in pages}
    return "\n".join(by_no[sp["page"]][sp["start"] : sp["end"]] for sp in spans)
