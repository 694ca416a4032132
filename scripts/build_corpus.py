"""Build the bundled sample corpus: data/sources/<book>.md -> data/textbooks/<book>.pdf (PyMuPDF only).

    .venv/bin/python scripts/build_corpus.py                       # data/sources -> data/textbooks
    .venv/bin/python scripts/build_corpus.py --sources data/sources --output /tmp/tb --truth-dir /tmp/tb

Also writes (into --truth-dir, default: the sources dir) `scan_truth.json` (list of {file, page (1-based), text}: the
body text drawn on each image-only page, without running header / page number) and `corpus_manifest.json` (per book:
file, subject, title, pages, scan_pages, has_outline, toc_page, page_labels, headings). The build is deterministic:
fixed metadata, no /ID, seeded noise, fixed rotation angles -> byte-identical PDFs on every run.

Source markup (one file per book, UTF-8):

    ---                                   front matter, `key: value` lines:
    title: Exploring Biology                book title (title page + running header)
    subject: biology                        subject tag
    outline: yes|no                         embed a PDF outline (doc.set_toc) from the headings
    toc_page: yes|no                        print a "Contents" page with dotted leaders after the title page
    page_labels: yes|no                     roman labels (i, ii) for front matter, arabic from 1 for the body
    scan_pages: 4, 9                        PHYSICAL 1-based pages to turn into image-only scans (200 dpi gray);
                                            these pages must hold no figure or table (the builder checks)
    ---
    # Chapter 2  Cells and Tissues          chapter: new page, 20 pt bold; also the right running header
    ## 2.3 The Cell Membrane                section heading, 14 pt bold
    ### Key words                           sub-heading, 11.5 pt bold
    Plain lines                             paragraph text (consecutive lines join; blank line ends it), 10.5 pt
    **bold words**                          bold run inside a paragraph
    photo~synthesis                         allowed hyphenation point: if the word overflows the line it is split
                                            there as "photo-" / "synthesis"; otherwise the ~ is dropped
    ﬁ ﬂ                                     ligature characters are kept as written (U+FB01, U+FB02)
    $$ F = m × a $$                         display formula: its own centred line, Times italic 11.5 pt
    > Worked example 3.1 ...                boxed worked example (each "> " line is one paragraph of the box;
                                            the first line is set in bold)
    - item                                  bullet list item
    [figure: Caption text | shape]          vector figure (shapes: see FIGURES) captioned "Figure C.N: Caption"
    [table: Caption text]                   table: following lines "a | b | c" (first row = header) until [/table];
    ...                                     captioned "Table C.N: Caption"
    [/table]
    [pagebreak]                             start a new page
"""

from __future__ import annotations

import argparse
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from tutorforge.core.io import write_json

ROOT = Path(__file__).resolve().parent.parent

PAGE_W, PAGE_H = 595.0, 842.0
LM, RM, TOP, BOTTOM = 88.0, 88.0, 90.0, PAGE_H - 80.0
TEXT_W = PAGE_W - LM - RM
BODY, LEAD, PARA_GAP = 10.5, 17.5, 9.0
SCAN_DPI = 200
SCAN_ANGLES = [0.8, -1.3, 0.0, 1.6, -0.6, 1.1]  # degrees, cycled over a book's scan pages
VOWELS = set("aeiouy")
FIXED_DATE = "D:20260101000000Z"

FONTS = {k: pymupdf.Font(k) for k in ("helv", "hebo", "heit", "tiit")}


def roman(n: int) -> str:
    out = ""
    for v, s in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out, n = out + s, n - v
    return out


def width(text: str, font: str, size: float) -> float:
    return FONTS[font].text_length(text, fontsize=size)


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
        self.writers: dict[tuple[int, tuple], pymupdf.TextWriter] = {}
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

    def put(self, x: float, y: float, text: str, font: str, size: float, color=(0, 0, 0), pno: int | None = None):
        pno = self.pno if pno is None else pno
        for ch in set(text):
            if not FONTS[font].has_glyph(ord(ch)):
                raise ValueError(f"font {font} has no glyph for {ch!r} in {text!r}")
        key = (pno, tuple(color))
        if key not in self.writers:
            self.writers[key] = pymupdf.TextWriter(self.doc[pno].rect, color=color)
        self.writers[key].append((x, y), text, font=FONTS[font], fontsize=size)

    def flush(self) -> None:
        for (pno, _), tw in sorted(self.writers.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            tw.write_text(self.doc[pno])
        self.writers.clear()

    def ensure(self, h: float) -> None:
        if self.y + h > BOTTOM:
            self.new_page()

    def body_line(self, text: str) -> None:
        self.pages[-1].body.append(text)

    # ---- text blocks
    def wrap(self, text: str, font: str, size: float, maxw: float) -> list[list[tuple[str, str]]]:
        """Greedy line breaking of text with **bold** runs and ~ hyphenation points -> lines of (text, font) runs."""
        words: list[tuple[str, str]] = []
        for i, part in enumerate(re.split(r"\*\*", text)):
            f = "hebo" if i % 2 == 1 else font
            words += [(w, f) for w in part.split()]
        lines: list[list[tuple[str, str]]] = []
        cur: list[tuple[str, str]] = []
        curw = 0.0
        space = width(" ", font, size)
        i = 0
        while i < len(words):
            w, f = words[i]
            plain = w.replace("~", "")
            need = width(plain, f, size) + (space if cur else 0)
            if curw + need <= maxw or not cur:
                cur.append((plain, f))
                curw += need
                i += 1
                continue
            if "~" not in w and len(w) >= 11 and w.isalpha():  # automatic break points: vowel|consonant
                w = "".join(c + ("~" if 4 <= k + 1 <= len(w) - 4 and c in VOWELS and w[k + 1] not in VOWELS else "")
                            for k, c in enumerate(w))
            if "~" in w:  # try to hyphenate at the last break point that fits
                parts = w.split("~")
                for k in range(len(parts) - 1, 0, -1):
                    head = "".join(parts[:k]) + "-"
                    if curw + space + width(head, f, size) <= maxw:
                        cur.append((head, f))
                        words[i] = ("~".join(parts[k:]), f)
                        break
            lines.append(cur)
            cur, curw = [], 0.0
        if cur:
            lines.append(cur)
        return lines

    def draw_line(self, runs: list[tuple[str, str]], x: float, size: float) -> str:
        """Draw runs on the current baseline self.y; consecutive words of one font become one string."""
        merged: list[tuple[str, str]] = []
        for w, f in runs:
            if merged and merged[-1][1] == f:
                merged[-1] = (merged[-1][0] + " " + w, f)
            else:
                merged.append((w, f))
        for j, (t, f) in enumerate(merged):
            s = t + (" " if j < len(merged) - 1 else "")
            self.put(x, self.y, s, f, size)
            x += width(s, f, size)
        return " ".join(w for w, _ in runs)

    def paragraph(self, text: str, font: str = "helv", size: float = BODY, indent: float = 0.0, bullet: bool = False,
                  bar: bool = False, gap: float = PARA_GAP) -> None:
        lines = self.wrap(text, font, size, TEXT_W - indent)
        for n, runs in enumerate(lines):
            self.ensure(LEAD)
            self.y += LEAD
            if bullet and n == 0:
                self.put(LM + indent - 10, self.y, "•", "helv", size)
            if bar:
                self.doc[self.pno].draw_line((LM + 4, self.y - LEAD + 3), (LM + 4, self.y + 4), color=(0.45,) * 3,
                                             width=2)
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
        self.put(LM + (TEXT_W - width(text, "tiit", size)) / 2, self.y, text, "tiit", size)
        self.body_line(text)
        self.y += 8

    def caption(self, text: str) -> None:
        for runs in self.wrap(text, "heit", 9.5, TEXT_W - 40):
            self.y += 12.5
            line = " ".join(w for w, _ in runs)
            self.put(LM + (TEXT_W - width(line, "heit", 9.5)) / 2, self.y, line, "heit", 9.5)
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
        widths = [max(width(r[c], "hebo", size) if c < len(r) else 0 for r in rows) + 14 for c in range(ncol)]
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


# ---------------------------------------------------------------- figures (simple vector drawings)
def _label(lay: Layout, x: float, y: float, text: str, size: float = 8.5) -> None:
    lay.put(x, y, text, "helv", size, color=(0.1, 0.1, 0.1))


def _arrow(page: pymupdf.Page, p: tuple, q: tuple, w: float = 1.2) -> None:
    page.draw_line(p, q, color=(0, 0, 0), width=w)
    ang = math.atan2(q[1] - p[1], q[0] - p[0])
    for d in (2.6, -2.6):
        page.draw_line(q, (q[0] - 7 * math.cos(ang + d / 6), q[1] - 7 * math.sin(ang + d / 6)), color=(0, 0, 0),
                       width=w)


def fig_cell(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = r.tl + (r.width / 2, r.height / 2)
    cell = pymupdf.Rect(c.x - 120, r.y0 + 5, c.x + 120, r.y1 - 5)
    page.draw_oval(cell, color=(0, 0, 0), fill=(0.95,) * 3, width=1.5)
    page.draw_circle((c.x - 20, c.y), 28, color=(0, 0, 0), fill=(0.75,) * 3, width=1)
    page.draw_circle((c.x - 20, c.y), 9, color=(0, 0, 0), fill=(0.45,) * 3)
    for dx, dy in ((55, -30), (60, 25), (-80, 35)):
        page.draw_oval(pymupdf.Rect(c.x + dx - 16, c.y + dy - 7, c.x + dx + 16, c.y + dy + 7), color=(0, 0, 0),
                       fill=(0.85,) * 3)
    for text, p, q in (("cell membrane", (cell.x1 - 10, c.y - 40), (cell.x1 + 10, c.y - 55)),
                       ("nucleus", (c.x - 20, c.y - 28), (c.x - 20, r.y0 - 2)),
                       ("mitochondrion", (c.x + 70, c.y + 25), (cell.x1 + 12, c.y + 40)),
                       ("cytoplasm", (c.x - 90, c.y - 20), (cell.x0 - 20, c.y - 40))):
        page.draw_line(p, q, color=(0.3,) * 3, width=0.6)
        _label(lay, q[0] + 2 if q[0] > c.x else q[0] - width(text, "helv", 8.5) - 2, q[1] + 3, text)


def fig_chain(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    items = [s.strip() for s in arg.split(">")]
    bw = 86.0
    gap = (r.width - bw * len(items)) / max(1, len(items) - 1)
    y = r.y0 + r.height / 2
    for i, item in enumerate(items):
        x = r.x0 + i * (bw + gap)
        page.draw_rect(pymupdf.Rect(x, y - 20, x + bw, y + 20), color=(0, 0, 0), fill=(0.92,) * 3, width=1)
        _label(lay, x + (bw - width(item, "helv", 9)) / 2, y + 3, item, 9)
        if i < len(items) - 1:
            _arrow(page, (x + bw + 4, y), (x + bw + gap - 4, y))


def fig_atom(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = (r.x0 + r.width / 2, r.y0 + r.height / 2)
    page.draw_circle(c, 14, color=(0, 0, 0), fill=(0.6,) * 3)
    shells = [int(s) for s in (arg or "2,8,1").split(",")]
    for k, n in enumerate(shells):
        rad = 30 + 22 * k
        page.draw_circle(c, rad, color=(0.3,) * 3, width=0.8)
        for j in range(n):
            a = 2 * math.pi * j / n + k * 0.4
            page.draw_circle((c[0] + rad * math.cos(a), c[1] + rad * math.sin(a)), 3.2, color=(0, 0, 0), fill=(0, 0, 0))
    _label(lay, c[0] + 30 + 22 * len(shells), c[1] - 20, "electron shells")
    _label(lay, c[0] - 150, c[1] + 4, "nucleus (protons + neutrons)")
    page.draw_line((c[0] - 14, c[1]), (c[0] - 40, c[1]), color=(0.3,) * 3, width=0.6)


def fig_graph(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    """graph: x label | y label | kind (line, curve, parabola, decay)"""
    page = lay.doc[lay.pno]
    xl, yl, kind = ([s.strip() for s in arg.split("|")] + ["", "", "line"])[:3]
    o = pymupdf.Point(r.x0 + 70, r.y1 - 18)
    x1, y1 = r.x1 - 60, r.y0 + 5
    _arrow(page, o, (x1, o.y), 1)
    _arrow(page, o, (o.x, y1), 1)
    _label(lay, (o.x + x1) / 2 - width(xl, "helv", 8.5) / 2, o.y + 14, xl)
    _label(lay, o.x - width(yl, "helv", 8.5) - 6, y1 + 10, yl)
    pts = []
    for i in range(41):
        t = i / 40
        if kind == "curve":
            v = t * t
        elif kind == "parabola":
            v = 0.9 - 3.2 * (t - 0.5) ** 2
        elif kind == "decay":
            v = math.exp(-3 * t)
        elif kind == "sine":
            v = 0.5 + 0.4 * math.sin(4 * math.pi * t)
        else:
            v = 0.9 * t
        pts.append((o.x + 8 + t * (x1 - o.x - 20), o.y - 4 - v * (o.y - y1 - 12)))
    page.draw_polyline(pts, color=(0, 0, 0), width=1.6)


def fig_particles(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    rng = random.Random(7)
    bw = 110.0
    for i, name in enumerate(("solid", "liquid", "gas")):
        x = r.x0 + 20 + i * (bw + 30)
        box = pymupdf.Rect(x, r.y0 + 10, x + bw, r.y1 - 25)
        page.draw_rect(box, color=(0, 0, 0), width=1)
        if i == 0:
            pts = [(box.x0 + 12 + 14 * a, box.y1 - 10 - 14 * b) for a in range(7) for b in range(6)]
        elif i == 1:
            pts = [(box.x0 + 12 + 14 * a + rng.uniform(-3, 3), box.y1 - 10 - 14 * b + rng.uniform(-3, 3))
                   for a in range(7) for b in range(4) if rng.random() < 0.85]
        else:
            pts = [(rng.uniform(box.x0 + 8, box.x1 - 8), rng.uniform(box.y0 + 8, box.y1 - 8)) for _ in range(9)]
        for p in pts:
            page.draw_circle(p, 5, color=(0, 0, 0), fill=(0.7,) * 3, width=0.5)
        _label(lay, x + (bw - width(name, "helv", 9)) / 2, r.y1 - 8, name, 9)


def fig_forces(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = pymupdf.Point(r.x0 + r.width / 2, r.y0 + r.height / 2)
    page.draw_rect(pymupdf.Rect(c.x - 40, c.y - 28, c.x + 40, c.y + 28), color=(0, 0, 0), fill=(0.85,) * 3)
    _label(lay, c.x - 18, c.y + 3, "5 kg", 9)
    page.draw_line((r.x0, c.y + 28), (r.x1, c.y + 28), color=(0, 0, 0), width=1)
    _arrow(page, (c.x + 40, c.y), (c.x + 150, c.y), 2)
    _label(lay, c.x + 70, c.y - 8, "push 30 N", 9)
    _arrow(page, (c.x - 40, c.y), (c.x - 110, c.y), 2)
    _label(lay, c.x - 145, c.y - 8, "friction 10 N", 9)
    _arrow(page, (c.x, c.y - 28), (c.x, c.y - 70), 1.5)
    _label(lay, c.x + 6, c.y - 60, "normal force", 8.5)
    _arrow(page, (c.x, c.y + 28), (c.x, c.y + 66), 1.5)
    _label(lay, c.x + 6, c.y + 60, "weight", 8.5)


def fig_circuit(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    b = pymupdf.Rect(r.x0 + 90, r.y0 + 20, r.x1 - 90, r.y1 - 20)
    mx = (b.x0 + b.x1) / 2
    page.draw_polyline([(mx - 8, b.y0), (b.x0, b.y0), (b.x0, b.y1), (b.x1, b.y1), (b.x1, b.y0), (mx + 8, b.y0)],
                       color=(0, 0, 0), width=1.3)
    page.draw_line((mx - 8, b.y0 - 14), (mx - 8, b.y0 + 14), color=(0, 0, 0), width=1.5)
    page.draw_line((mx + 8, b.y0 - 7), (mx + 8, b.y0 + 7), color=(0, 0, 0), width=3)
    _label(lay, mx - 28, b.y0 - 20, "cell 6 V")
    page.draw_circle((mx, b.y1), 13, color=(0, 0, 0), fill=(1, 1, 1), width=1.3)
    page.draw_line((mx - 9, b.y1 - 9), (mx + 9, b.y1 + 9), color=(0, 0, 0))
    page.draw_line((mx - 9, b.y1 + 9), (mx + 9, b.y1 - 9), color=(0, 0, 0))
    _label(lay, mx + 18, b.y1 + 14, "lamp")
    page.draw_rect(pymupdf.Rect(b.x1 - 10, (b.y0 + b.y1) / 2 - 22, b.x1 + 10, (b.y0 + b.y1) / 2 + 22),
                   color=(0, 0, 0), fill=(1, 1, 1), width=1.3)
    _label(lay, b.x1 + 16, (b.y0 + b.y1) / 2 + 3, "resistor 12 Ω")
    page.draw_circle((b.x0, (b.y0 + b.y1) / 2), 13, color=(0, 0, 0), fill=(1, 1, 1), width=1.3)
    _label(lay, b.x0 - 4, (b.y0 + b.y1) / 2 + 3, "A", 10)


def fig_wave(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    y0 = r.y0 + r.height / 2
    page.draw_line((r.x0, y0), (r.x1, y0), color=(0.5,) * 3, width=0.5, dashes="[3] 0")
    lam = (r.width - 20) / 2
    pts = [(r.x0 + 10 + i, y0 - 45 * math.sin(2 * math.pi * i / lam)) for i in range(0, int(r.width - 20), 2)]
    page.draw_polyline(pts, color=(0, 0, 0), width=1.6)
    xa, xb = r.x0 + 10 + lam / 4, r.x0 + 10 + 5 * lam / 4
    page.draw_line((xa, y0 - 58), (xb, y0 - 58), color=(0, 0, 0), width=0.8)
    _label(lay, (xa + xb) / 2 - 30, y0 - 62, "wavelength λ")
    page.draw_line((xa, y0), (xa, y0 - 45), color=(0, 0, 0), width=0.8)
    _label(lay, xa + 4, y0 - 20, "amplitude")


def fig_triangle(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    a, b, c = (r.x0 + 110, r.y1 - 15), (r.x1 - 110, r.y1 - 15), (r.x0 + 110, r.y0 + 10)
    page.draw_polyline([a, b, c, a], color=(0, 0, 0), width=1.5, closePath=True, fill=(0.93,) * 3)
    page.draw_rect(pymupdf.Rect(a[0], a[1] - 12, a[0] + 12, a[1]), color=(0, 0, 0), width=0.8)
    _label(lay, (a[0] + b[0]) / 2, a[1] + 12, "b = 4 cm", 9)
    _label(lay, a[0] - 55, (a[1] + c[1]) / 2, "a = 3 cm", 9)
    _label(lay, (b[0] + c[0]) / 2 + 10, (b[1] + c[1]) / 2 - 6, "c = 5 cm (hypotenuse)", 9)


def fig_phscale(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    cw = (r.width - 20) / 15
    y = r.y0 + 45
    for i in range(15):
        x = r.x0 + 10 + i * cw
        g = 0.35 + 0.6 * abs(i - 7) / 7
        page.draw_rect(pymupdf.Rect(x, y, x + cw, y + 34), color=(0, 0, 0), fill=(1 - g * 0.8,) * 3, width=0.6)
        _label(lay, x + cw / 2 - width(str(i), "helv", 9) / 2, y + 48, str(i), 9)
    _label(lay, r.x0 + 10, y - 10, "strong acid", 9)
    _label(lay, r.x0 + 10 + 7 * cw - 8, y - 10, "neutral", 9)
    _label(lay, r.x1 - 60, y - 10, "strong alkali", 9)
    for name, v in (("lemon juice", 2), ("pure water", 7), ("soap", 10)):
        x = r.x0 + 10 + (v + 0.5) * cw
        _arrow(lay.doc[lay.pno], (x, y + 85), (x, y + 58), 0.8)
        _label(lay, x - width(name, "helv", 8.5) / 2, y + 96, name)


def fig_bars(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    pairs = [p.split("=") for p in arg.split(",")]
    o = pymupdf.Point(r.x0 + 60, r.y1 - 18)
    page.draw_line(o, (r.x1 - 40, o.y), color=(0, 0, 0))
    page.draw_line(o, (o.x, r.y0), color=(0, 0, 0))
    top = max(float(v) for _, v in pairs)
    bw = (r.x1 - 40 - o.x) / len(pairs)
    for i, (k, v) in enumerate(pairs):
        h = (o.y - r.y0 - 10) * float(v) / top
        x = o.x + i * bw + bw * 0.2
        page.draw_rect(pymupdf.Rect(x, o.y - h, x + bw * 0.6, o.y), color=(0, 0, 0), fill=(0.6,) * 3, width=0.6)
        _label(lay, x + bw * 0.3 - width(k.strip(), "helv", 8.5) / 2, o.y + 12, k.strip())
        _label(lay, x + bw * 0.3 - width(v.strip(), "helv", 8.5) / 2, o.y - h - 4, v.strip())


FIG_HEIGHT = {"chain": 70.0, "phscale": 150.0, "triangle": 120.0}
FIGURES = {"cell": fig_cell, "chain": fig_chain, "atom": fig_atom, "graph": fig_graph, "particles": fig_particles,
           "forces": fig_forces, "circuit": fig_circuit, "wave": fig_wave, "triangle": fig_triangle,
           "phscale": fig_phscale, "bars": fig_bars}


# ---------------------------------------------------------------- source parsing
def parse_source(text: str) -> tuple[dict[str, str], list[tuple]]:
    """-> (front matter dict, blocks). Blocks: (kind, ...) tuples in source order."""
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not m:
        raise ValueError("source must start with a --- front matter block ---")
    meta = dict(line.split(":", 1) for line in m.group(1).splitlines() if line.strip())
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    blocks: list[tuple] = []
    para: list[str] = []
    kind = "p"

    def end_para() -> None:
        nonlocal para, kind
        if para:
            blocks.append((kind, " ".join(para)))
        para, kind = [], "p"

    lines = text[m.end():].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if not line.strip():
            end_para()
        elif line.startswith("#"):
            end_para()
            hashes, _, title = line.partition(" ")
            blocks.append(("h", len(hashes), title.strip()))
        elif line.startswith("$$"):
            end_para()
            blocks.append(("formula", line.strip("$ ").strip()))
        elif line.startswith("> "):
            end_para()
            ex = [line[2:].strip()]
            while i < len(lines) and lines[i].startswith("> "):
                ex.append(lines[i][2:].strip())
                i += 1
            blocks.append(("example", ex))
        elif line.startswith("- "):
            end_para()
            para, kind = [line[2:].strip()], "li"
        elif line.startswith("[figure:"):
            end_para()
            cap, _, spec = line[len("[figure:"):].rstrip("]").partition("|")
            blocks.append(("figure", cap.strip(), spec.strip()))
        elif line.startswith("[table:"):
            end_para()
            cap = line[len("[table:"):].rstrip("]").strip()
            rows = []
            while lines[i].strip() != "[/table]":
                rows.append([c.strip() for c in lines[i].split("|")])
                i += 1
            i += 1
            blocks.append(("table", cap, rows))
        elif line.strip() == "[pagebreak]":
            end_para()
            blocks.append(("pagebreak",))
        else:
            para.append(line.strip())
    end_para()
    return meta, blocks


def yes(meta: dict[str, str], key: str) -> bool:
    return meta.get(key, "no").lower() in ("yes", "true", "1")


# ---------------------------------------------------------------- book assembly
def layout_body(blocks: list[tuple]) -> tuple[pymupdf.Document, Layout]:
    doc = pymupdf.open()
    lay = Layout(doc)
    chap, nfig, ntab = 0, 0, 0
    for b in blocks:
        if b[0] == "h":
            if b[1] == 1:
                chap, nfig, ntab = chap + 1, 0, 0
            lay.heading(b[1], b[2])
        elif b[0] in ("p", "li"):
            if not lay.pages:
                lay.new_page()
            lay.paragraph(b[1], indent=14 if b[0] == "li" else 0, bullet=b[0] == "li",
                          gap=2 if b[0] == "li" else PARA_GAP)
        elif b[0] == "formula":
            lay.formula(b[1])
        elif b[0] == "example":
            lay.ensure(3 * LEAD)
            lay.y += 4
            for k, t in enumerate(b[1]):
                lay.paragraph(f"**{t}**" if k == 0 else t, indent=14, bar=True, gap=1)
            lay.y += 8
        elif b[0] == "figure":
            nfig += 1
            lay.figure(b[1], b[2], f"{chap}.{nfig}")
        elif b[0] == "table":
            ntab += 1
            lay.table(b[1], b[2], f"{chap}.{ntab}")
        elif b[0] == "pagebreak":
            lay.new_page()
    return doc, lay


def build_book(src: Path, out_pdf: Path) -> dict:
    meta, blocks = parse_source(src.read_text(encoding="utf-8"))
    title, subject = meta["title"], meta["subject"]
    body_doc, lay = layout_body(blocks)
    n_front = 1 + (1 if yes(meta, "toc_page") else 0)
    labels = yes(meta, "page_labels")

    def label(body_idx: int) -> str:  # printed page number of a body page
        return str(body_idx + 1) if labels else str(body_idx + 1 + n_front)

    # running headers and footers on body pages
    for i, ps in enumerate(lay.pages):
        if not ps.opening:
            lay.put(LM, 46, title, "heit", 8.5, color=(0.25,) * 3, pno=i)
            lay.put(PAGE_W - RM - width(ps.chapter, "heit", 8.5), 46, ps.chapter, "heit", 8.5, color=(0.25,) * 3,
                    pno=i)
            body_doc[i].draw_line((LM, 52), (PAGE_W - RM, 52), color=(0.5,) * 3, width=0.5)
        num = label(i)
        lay.put((PAGE_W - width(num, "helv", 9)) / 2, PAGE_H - 40, num, "helv", 9, pno=i)
    lay.flush()

    # front matter: title page (+ contents page)
    front = pymupdf.open()
    flay = Layout(front)
    flay.new_page()
    flay.put(LM, 250, title, "hebo", 28)
    flay.put(LM, 285, f"A school textbook of {subject} for ages 13 to 16", "heit", 13)
    flay.put(LM, 700, "TutorForge sample corpus: original text written for testing, free to reuse.", "helv", 9)
    front_labels = ["i"] if labels else ["1"]
    toc_page = None
    if yes(meta, "toc_page"):
        flay.new_page()
        flay.put(LM, TOP + 30, "Contents", "hebo", 20)
        y = TOP + 70
        for level, text, pidx in lay.headings:
            if level > 2:
                continue
            x = LM + (0 if level == 1 else 18)
            font = "hebo" if level == 1 else "helv"
            num = label(pidx)
            y += 22 if level == 1 else 16
            flay.put(x, y, text, font, 10.5)
            xe = PAGE_W - RM - width(num, "helv", 10.5)
            flay.put(xe, y, num, "helv", 10.5)
            x_dots = x + width(text, font, 10.5) + 6
            dot = width(". ", "helv", 10.5)
            ndots = int((xe - 6 - x_dots) / dot)
            if ndots > 0:
                flay.put(xe - 6 - ndots * dot, y, ". " * ndots, "helv", 10.5, color=(0.35,) * 3)
        if y > BOTTOM:
            raise ValueError(f"{src.name}: contents page overflows")
        num = "ii" if labels else "2"
        flay.put((PAGE_W - width(num, "helv", 9)) / 2, PAGE_H - 40, num, "helv", 9)
        front_labels.append(num)
        toc_page = 2
    flay.flush()

    # assemble: front + body; scanned pages become image-only
    scans = [int(s) for s in meta.get("scan_pages", "").replace(" ", "").split(",") if s]
    doc = pymupdf.open()
    doc.insert_pdf(front)
    truth = []
    for i in range(body_doc.page_count):
        phys = n_front + i + 1
        if phys in scans:
            ps = lay.pages[i]
            if ps.figure or ps.table:
                raise ValueError(f"{src.name}: scan page {phys} holds a figure/table; pick a prose-only page")
            angle = SCAN_ANGLES[scans.index(phys) % len(SCAN_ANGLES)]
            png = scan_image(body_doc, i, angle, seed=phys)
            page = doc.new_page(width=PAGE_W, height=PAGE_H)
            page.insert_image(page.rect, stream=png)
            truth.append({"file": out_pdf.name, "page": phys, "text": "\n".join(ps.body)})
        else:
            doc.insert_pdf(body_doc, from_page=i, to_page=i)
    bad = [s for s in scans if not n_front < s <= doc.page_count]
    if bad:
        raise ValueError(f"{src.name}: scan_pages {bad} are not body pages (1..{doc.page_count}, front={n_front})")

    toc = [[lvl, text, n_front + pidx + 1] for lvl, text, pidx in lay.headings]
    if yes(meta, "outline"):
        doc.set_toc(toc)
    page_labels = front_labels + [label(i) for i in range(body_doc.page_count)]
    if labels:
        doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
                             {"startpage": n_front, "prefix": "", "style": "D", "firstpagenum": 1}])
    doc.set_metadata({"title": title, "author": "TutorForge sample corpus", "subject": subject,
                      "creator": "scripts/build_corpus.py", "producer": "PyMuPDF", "creationDate": FIXED_DATE,
                      "modDate": FIXED_DATE, "keywords": "", "trapped": ""})
    doc.subset_fonts()
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_pdf.with_suffix(".pdf.tmp")
    doc.save(str(tmp), garbage=4, deflate=True, deflate_images=True, deflate_fonts=True, no_new_id=True,
             use_objstms=0)
    tmp.replace(out_pdf)
    return {
        "file": out_pdf.name, "subject": subject, "title": title, "pages": doc.page_count,
        "scan_pages": scans, "has_outline": yes(meta, "outline"), "toc_page": toc_page,
        "page_labels": page_labels if labels else None,
        "headings": [{"level": lvl, "title": t, "page": p} for lvl, t, p in toc],
        "_truth": truth,
    }


def scan_image(src: pymupdf.Document, pno: int, angle: float, seed: int) -> bytes:
    """Render one page like a cheap scanner: slight rotation, speckles, 200 dpi grayscale, JPEG."""
    tmp = pymupdf.open()
    page = tmp.new_page(width=PAGE_W, height=PAGE_H)
    page.show_pdf_page(page.rect, src, pno, rotate=angle)
    rng = random.Random(seed)
    shape = page.new_shape()
    for _ in range(40):
        shape.draw_circle((rng.uniform(0, PAGE_W), rng.uniform(0, PAGE_H)), rng.uniform(0.15, 0.3))
    shape.finish(color=(0.6,) * 3, fill=(0.6,) * 3)
    shape.commit()
    pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY, annots=False)
    return pix.tobytes("jpg", jpg_quality=75)


def build_corpus(sources: Path, output: Path, truth_dir: Path) -> list[dict]:
    books = []
    srcs = sorted(sources.glob("*.md"))
    if not srcs:
        raise SystemExit(f"no *.md sources in {sources}")
    for n, src in enumerate(srcs, 1):
        t0 = time.perf_counter()
        info = build_book(src, output / f"{src.stem}.pdf")
        print(f"[{n}/{len(srcs)}] {src.name} -> {output / info['file']}: {info['pages']} pages, "
              f"{len(info['scan_pages'])} scans, {time.perf_counter() - t0:.1f}s", flush=True)
        books.append(info)
    truth = [t for b in books for t in b.pop("_truth")]
    write_json(truth_dir / "scan_truth.json", truth)
    write_json(truth_dir / "corpus_manifest.json", {"books": books})
    return books


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=Path, default=ROOT / "data" / "sources")
    ap.add_argument("--output", type=Path, default=ROOT / "data" / "textbooks")
    ap.add_argument("--truth-dir", type=Path, default=None, help="where scan_truth.json / corpus_manifest.json go "
                    "(default: --sources)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    build_corpus(args.sources, args.output, args.truth_dir or args.sources)
    print(f"done in {time.perf_counter() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

