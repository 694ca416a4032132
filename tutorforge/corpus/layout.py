"""The page layout engine of the bundled corpus: flows parsed source blocks onto A4 pages, drawing as it goes.

    doc = pymupdf.open()
    lay = Layout(doc)
    lay.heading(1, "Chapter 1  Cells and Tissues")       # new page, 20 pt bold, rule underneath
    lay.paragraph("A cell is **defined** as the smallest photo~synthesis unit ...")
    lay.flush()                                          # text goes through tutorforge.pdf.writer.TextLayer

Greedy line breaking with **bold** runs and `~` hyphenation points (plus automatic vowel|consonant break points
in long words), headings, display formulas, captions, vector figures (tutorforge.corpus.figures) and ruled
tables. Each page remembers the body lines drawn on it (the ground truth of a page that becomes a scan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pymupdf

from tutorforge.corpus.figures import FIG_HEIGHT, FIGURES
from tutorforge.pdf.writer import Color, TextLayer, text_width

PAGE_W, PAGE_H = 595.0, 842.0
LM, RM, TOP, BOTTOM = 88.0, 88.0, 90.0, PAGE_H - 80.0
TEXT_W = PAGE_W - LM - RM
BODY, LEAD, PARA_GAP = 10.5, 17.5, 9.0
VOWELS = set("aeiouy")

Run = tuple[str, str]  # (text, font name)


@dataclass
class PageState:
    """What the layouter knows about one page while building."""

    chapter: str = ""
    opening: bool = False  # chapter opening page: no running header
    body: list[str] = field(default_factory=list)  # drawn body lines (ground truth for scans)
    figure: bool = False
    table: bool = False


class Layout:
    """Flows blocks onto A4 pages of a PyMuPDF document, drawing as it goes."""

    def __init__(self, doc: pymupdf.Document) -> None:
        self.doc = doc
        self.pages: list[PageState] = []
        self.text = TextLayer(doc)
        self.y = BOTTOM
        self.chapter = ""
        self.headings: list[tuple[int, str, int]] = []  # (level, title, body page index 0-based)

    # ---- low level
    def new_page(self) -> None:
        self.doc.new_page(width=PAGE_W, height=PAGE_H)
        self.pages.append(PageState(chapter=self.chapter))
        self.y = TOP

    @property
    def pno(self) -> int:
        return len(self.pages) - 1

    def put(
        self, x: float, y: float, text: str, font: str, size: float, color: Color = (0, 0, 0), pno: int | None = None
    ) -> None:
        """Queue one string (baseline at x, y) on page `pno` (default: the current page)."""
        self.text.put(self.pno if pno is None else pno, (x, y), text, font, size, color=color)

    def flush(self) -> None:
        """Write all queued text onto the pages."""
        self.text.flush()

    def ensure(self, h: float) -> None:
        if self.y + h > BOTTOM:
            self.new_page()

    def body_line(self, text: str) -> None:
        self.pages[-1].body.append(text)

    # ---- text blocks
    def wrap(self, text: str, font: str, size: float, maxw: float) -> list[list[Run]]:
        """Greedy line breaking of text with **bold** runs and ~ hyphenation points -> lines of (text, font) runs."""
        words: list[Run] = []
        for i, part in enumerate(re.split(r"\*\*", text)):
            f = "hebo" if i % 2 == 1 else font
            words += [(w, f) for w in part.split()]
        lines: list[list[Run]] = []
        cur: list[Run] = []
        curw = 0.0
        space = text_width(" ", font, size)
        i = 0
        while i < len(words):
            w, f = words[i]
            plain = w.replace("~", "")
            need = text_width(plain, f, size) + (space if cur else 0)
            if curw + need <= maxw or not cur:
                cur.append((plain, f))
                curw += need
                i += 1
                continue
            if "~" not in w and len(w) >= 11 and w.isalpha():  # automatic break points: vowel|consonant
                w = "".join(
                    c + ("~" if 4 <= k + 1 <= len(w) - 4 and c in VOWELS and w[k + 1] not in VOWELS else "")
                    for k, c in enumerate(w)
                )
            if "~" in w:  # try to hyphenate at the last break point that fits
                parts = w.split("~")
                for k in range(len(parts) - 1, 0, -1):
                    head = "".join(parts[:k]) + "-"
                    if curw + space + text_width(head, f, size) <= maxw:
                        cur.append((head, f))
                        words[i] = ("~".join(parts[k:]), f)
                        break
            lines.append(cur)
            cur, curw = [], 0.0
        if cur:
            lines.append(cur)
        return lines

    def draw_line(self, runs: list[Run], x: float, size: float) -> str:
        """Draw runs on the current baseline self.y; consecutive words of one font become one string."""
        merged: list[Run] = []
        for w, f in runs:
            if merged and merged[-1][1] == f:
                merged[-1] = (merged[-1][0] + " " + w, f)
            else:
                merged.append((w, f))
        for j, (t, f) in enumerate(merged):
            s = t + (" " if j < len(merged) - 1 else "")
            self.put(x, self.y, s, f, size)
            x += text_width(s, f, size)
        return " ".join(w for w, _ in runs)

    def paragraph(
        self,
        text: str,
        font: str = "helv",
        size: float = BODY,
        indent: float = 0.0,
        bullet: bool = False,
        bar: bool = False,
        gap: float = PARA_GAP,
    ) -> None:
        lines = self.wrap(text, font, size, TEXT_W - indent)
        for n, runs in enumerate(lines):
            self.ensure(LEAD)
            self.y += LEAD
            if bullet and n == 0:
                self.put(LM + indent - 10, self.y, "•", "helv", size)
            if bar:
                self.doc[self.pno].draw_line(
                    (LM + 4, self.y - LEAD + 3), (LM + 4, self.y + 4), color=(0.45,) * 3, width=2
                )
            drawn = self.draw_line(runs, LM + indent, size)
            self.body_line(("• " if bullet and n == 0 else "") + drawn)
        self.y += gap

    def heading(self, level: int, text: str) -> None:
        if level == 1:
            if self.pages and (self.pages[-1].body or self.pages[-1].figure):
                self.new_page()
            elif not self.pages:
                self.new_page()
            self.chapter = text
            self.pages[-1].chapter = text
            self.pages[-1].opening = True
            self.y = TOP + 30
            self.put(LM, self.y, text, "hebo", 20)
            self.doc[self.pno].draw_line((LM, self.y + 10), (PAGE_W - RM, self.y + 10), color=(0.3,) * 3, width=1.2)
            self.y += 26
        else:
            size = 14.0 if level == 2 else 11.5
            self.ensure(size + 10 + 3 * LEAD)
            self.y += size + (10 if level == 2 else 6)
            self.put(LM, self.y, text, "hebo", size)
            self.y += 4
        self.body_line(text)
        self.headings.append((level, text, self.pno))

    def formula(self, text: str) -> None:
        size = 11.5
        self.ensure(LEAD + 12)
        self.y += LEAD + 6
        self.put(LM + (TEXT_W - text_width(text, "tiit", size)) / 2, self.y, text, "tiit", size)
        self.body_line(text)
        self.y += 8

    def example(self, lines: list[str]) -> None:
        """A boxed worked example: a grey bar on the left, the first line in bold."""
        self.ensure(3 * LEAD)
        self.y += 4
        for k, t in enumerate(lines):
            self.paragraph(f"**{t}**" if k == 0 else t, indent=14, bar=True, gap=1)
        self.y += 8

    def caption(self, text: str) -> None:
        for runs in self.wrap(text, "heit", 9.5, TEXT_W - 40):
            self.y += 12.5
            line = " ".join(w for w, _ in runs)
            self.put(LM + (TEXT_W - text_width(line, "heit", 9.5)) / 2, self.y, line, "heit", 9.5)
            self.body_line(line)
        self.y += 8

    def figure(self, caption: str, spec: str, number: str) -> None:
        name, _, arg = spec.partition(":")
        h = FIG_HEIGHT.get(name.strip(), 215.0)
        self.ensure(h + 40)
        rect = pymupdf.Rect(LM + 40, self.y + 10, PAGE_W - RM - 40, self.y + 10 + h)
        draw = FIGURES.get(name.strip())
        if draw is None:
            raise ValueError(f"unknown figure shape {name!r}; known: {sorted(FIGURES)}")
        draw(self, rect, arg.strip())
        self.pages[-1].figure = True
        self.y = rect.y1 + 4
        self.caption(f"Figure {number}: {caption}")

    def table(self, caption: str, rows: list[list[str]], number: str) -> None:
        size, rh = 9.5, 17.0
        ncol = max(len(r) for r in rows)
        widths = [max(text_width(r[c], "hebo", size) if c < len(r) else 0 for r in rows) + 14 for c in range(ncol)]
        scale = min(1.0, TEXT_W / sum(widths))
        widths = [w * scale for w in widths]
        total = sum(widths)
        self.ensure(rh * len(rows) + 40)
        x0 = LM + (TEXT_W - total) / 2
        self.pages[-1].table = True
        page = self.doc[self.pno]
        self.caption(f"Table {number}: {caption}")
        top = self.y
        page.draw_rect((x0, top, x0 + total, top + rh), color=None, fill=(0.88,) * 3)
        for r, row in enumerate(rows):
            x = x0
            for c in range(ncol):
                cell = row[c] if c < len(row) else ""
                self.put(x + 6, top + r * rh + 12, cell, "hebo" if r == 0 else "helv", size)
                x += widths[c]
            self.body_line(" | ".join(row))
        for r in range(len(rows) + 1):
            page.draw_line((x0, top + r * rh), (x0 + total, top + r * rh), color=(0.2,) * 3, width=0.6)
        x = x0
        for c in range(ncol + 1):
            page.draw_line((x, top), (x, top + rh * len(rows)), color=(0.2,) * 3, width=0.6)
            x += widths[c] if c < ncol else 0
        self.y = top + rh * len(rows) + 10
