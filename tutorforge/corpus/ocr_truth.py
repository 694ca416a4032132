"""The real-page OCR truth set: passages of public-domain maths books (data/ocr_truth/*.txt, retyped) typeset as old
textbook pages and turned into 200-dpi image-only "scans"; the only truth is the text that was typeset.

    records = build_truth_set(Path("data/ocr_truth"), out_dir)   # out_dir/<book>.pdf + out_dir/truth.json

A record is {file, page (1-based), text, body: [top, bottom], columns}: `text` is what a reader of the page body reads, line
by line, top to bottom (columns left then right; a stacked fraction as numerator row, main row, denominator row);
running heads and page numbers are NOT in it: ingest removes them by design, so a fair comparison scores every
system on the body only, and `body` (shares of the page height) says where that body lies for systems that keep them.

Source markup, one line per block (`# ` lines before the first `=== page` are comments):
`title: X` running head, `first_page: N` printed number of the first page, `=== page` (`cols=2`: two columns, `||`
starts the right one), `# heading` (bold, centred; a page that starts with one opens a chapter: no running head, the
number at the foot), `## heading` (italic, centred), `> paragraph` (indented first line, justified), `+ paragraph`
(no indent), a bare line (no indent), `= display` (centred formula), `- item` (hanging indent; cells split by 3+
spaces go in equal columns), `^ footnote` (8 pt, at the foot under a rule). `text | tag` puts tag flush right on
the last line ("(3)", "[Post. 1]"). Inline: `{x}` italic, `^{2}` superscript, `_{1}` subscript, `\\frac{a}{b}`
(displays only) stacked. The build is deterministic: fixed fonts, seeded noise, no dates, so rebuilds are
byte-identical.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

from tutorforge.core.io import write_json
from tutorforge.pdf.writer import Speckle, TextLayer, add_image_page, fixed_metadata, render_scan, save_pdf, text_width

PAGE_W, PAGE_H = 396.0, 612.0  # a small old octavo page
LM = RM = 45.0
TEXT_W = PAGE_W - LM - RM
TOP, BOTTOM = 70.0, 572.0  # first / last body baseline
HEAD_Y, FOOT_Y = 42.0, 594.0  # running head / opening-page number baselines
SIZE, LEAD, NOTE, NOTE_LEAD = 10.0, 12.5, 8.0, 10.0
GAP = 18.0  # between columns

SCAN_DPI = 200
ANGLES = [0.7, -0.9, 0.4, 1.2, -0.5, 0.9, -1.1, 0.3]  # degrees, cycled over the pages of the set
CREATOR = "tutorforge.corpus.ocr_truth"

Run = tuple[str, str, float, float]  # text, font, size, rise (pt above the baseline)
_INLINE = re.compile(
    r"\\frac\{((?:[^{}]|\{[^{}]*\})*)\}\{((?:[^{}]|\{[^{}]*\})*)\}|\^\{([^}]*)\}|_\{([^}]*)\}|\{([^}]*)\}"
)


@dataclass
class Page:
    """One typeset page: its blocks while parsing; its truth lines once drawn."""

    cols: int = 1
    blocks: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, text, tag)
    truth: list[str] = field(default_factory=list)
    top: float = PAGE_H
    bottom: float = 0.0


def parse_source(text: str) -> tuple[dict[str, str], list[Page]]:
    """Markup -> (meta, pages). Raises ValueError on a line before the first page that is not `key: value`."""
    meta: dict[str, str] = {}
    pages: list[Page] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or (not pages and line.startswith("# ")):
            continue
        if line.startswith("=== page"):
            pages.append(Page(cols=2 if "cols=2" in line else 1))
        elif not pages:
            key, sep, val = line.partition(":")
            if not sep:
                raise ValueError(f"expected 'key: value' before the first page, got {line!r}")
            meta[key.strip()] = val.strip()
        elif line == "||":
            pages[-1].blocks.append(("col", "", ""))
        else:
            m = re.match(r"(##|#|>|\+|=|-|\^) (.*)$", line)
            kind, body = (m.group(1), m.group(2)) if m else ("", line)
            body, _, tag = body.partition(" | ")
            pages[-1].blocks.append((kind, body.strip(), tag.strip()))
    return meta, pages


def runs(text: str, size: float, font: str = "tiro") -> list[Run]:
    """Inline markup -> runs; a stacked fraction becomes one run whose text is "\\frac{a}{b}" (drawn by `display`)."""
    out: list[Run] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], font, size, 0.0))
        if m.group(1) is not None:
            out.append((m.group(0), "frac", size, 0.0))
        elif m.group(3) is not None:
            out.append((m.group(3), "tiro", size * 0.7, size * 0.38))
        elif m.group(4) is not None:
            out.append((m.group(4), "tiro", size * 0.7, -size * 0.2))
        else:
            out.append((m.group(5), "tiit", size, 0.0))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], font, size, 0.0))
    return out


def width(rs: list[Run]) -> float:
    return sum(text_width(t, f, s) for t, f, s, _ in rs)


def words(rs: list[Run]) -> list[list[Run]]:
    """Split runs at spaces into words (each a list of runs): a superscript sticks to its word."""
    out: list[list[Run]] = [[]]
    for t, f, s, r in rs:
        parts = t.split(" ")
        for k, p in enumerate(parts):
            if k > 0 and out[-1]:
                out.append([])
            if p:
                out[-1].append((p, f, s, r))
    return [w for w in out if w]


class Typesetter:
    """Draws pages of one book onto a PyMuPDF document and records each page's truth lines."""

    def __init__(self, doc: pymupdf.Document, pno: int, page: Page) -> None:
        self.doc, self.pno, self.page = doc, pno, page
        self.text = TextLayer(doc)
        self.x0, self.w, self.y = LM, TEXT_W, TOP - LEAD
        self.notes_h = 0.0  # room kept at the foot for the page's footnotes

    def draw(self, rs: list[Run], x: float, y: float, gap: float = 0.0) -> str:
        """Draw runs from x on baseline y, widening each space by `gap` (justification); returns the text."""
        for t, f, s, r in rs:
            for k, piece in enumerate(t.split(" ")):
                if k:
                    x += text_width(" ", f, s) + gap
                if piece:
                    self.text.put(self.pno, (x, y - r), piece, f, s, color=None)
                    x += text_width(piece, f, s)
        self.mark(y, SIZE)
        return " ".join("".join(t for t, *_ in rs).split())

    def mark(self, y: float, size: float) -> None:
        self.page.top, self.page.bottom = min(self.page.top, y - size), max(self.page.bottom, y + size * 0.3)

    def advance(self, dy: float) -> float:
        self.y += dy
        if self.y > BOTTOM - self.notes_h:
            raise ValueError(f"page {self.pno + 1} overflows at {self.page.truth[-1:]!r}")
        return self.y

    def paragraph(self, text: str, tag: str, indent: float, hang: float = 0.0, justify: bool = True) -> None:
        """Greedy line breaking (no hyphenation), justified but for the last line; `tag` flush right at the end."""
        ws = words(runs(text, SIZE))
        if any(r[1] == "frac" for w in ws for r in w):
            raise ValueError(f"a stacked fraction outside a display: {text!r}")
        space = text_width(" ", "tiro", SIZE)
        lines: list[list[list[Run]]] = [[]]
        for w in ws:
            avail = self.w - (indent if len(lines) == 1 else hang)
            cur = lines[-1]
            if cur and width([r for x in cur for r in x]) + space * len(cur) + width(w) > avail:
                lines.append([])
            lines[-1].append(w)
        for n, ln in enumerate(lines):
            x = self.x0 + (indent if n == 0 else hang)
            avail = self.w - (x - self.x0)
            natural = width([r for w in ln for r in w]) + space * (len(ln) - 1)
            last = n == len(lines) - 1
            gap = (avail - natural) / (len(ln) - 1) if justify and not last and len(ln) > 1 else 0.0
            flat = [r for k, w in enumerate(ln) for r in ([(" ", "tiro", SIZE, 0.0)] if k else []) + w]
            line = self.draw(flat, x, self.advance(LEAD), gap)
            if last and tag:
                tw = text_width(tag, "tiro", SIZE)
                if natural + tw + 12 > avail:
                    self.page.truth.append(line)
                    line = ""
                    self.advance(LEAD)
                self.text.put(self.pno, (self.x0 + self.w - tw, self.y), tag, "tiro", SIZE, color=None)
                line = f"{line} {tag}".strip()
            self.page.truth.append(line)

    def centred(self, text: str, font: str, size: float) -> None:
        for ln in self.wrap_plain(text, font, size, self.w - 30):
            w = text_width(ln, font, size)
            self.text.put(self.pno, (self.x0 + (self.w - w) / 2, self.advance(size * 1.45)), ln, font, size, color=None)
            self.mark(self.y, size)
            self.page.truth.append(ln)

    @staticmethod
    def wrap_plain(text: str, font: str, size: float, maxw: float) -> list[str]:
        lines = [""]
        for w in text.split():
            cand = f"{lines[-1]} {w}".strip()
            if lines[-1] and text_width(cand, font, size) > maxw:
                lines.append(w)
            else:
                lines[-1] = cand
        return lines

    def display(self, text: str, tag: str) -> None:
        """A centred formula; stacked fractions add a numerator row above and a denominator row below."""
        rs = runs(text, SIZE)
        fracs = any(f == "frac" for _, f, *_ in rs)
        parts: list[tuple[list[Run], list[Run], list[Run]]] = []  # (numerator, main, denominator) per piece
        for t, f, s, r in rs:
            if f == "frac":
                m = _INLINE.match(t)
                assert m is not None
                parts.append((runs(m.group(1), s), [], runs(m.group(2), s)))
            elif parts and not parts[-1][0]:
                parts[-1][1].append((t, f, s, r))
            else:
                parts.append(([], [(t, f, s, r)], []))
        pw = [max(width(a), width(b), width(c)) + (4 if a else 0) for a, b, c in parts]
        x = self.x0 + (self.w - sum(pw)) / 2
        y = self.advance(LEAD + (10 if fracs else 3))
        rows: list[list[str]] = [[], [], []]
        for (num, main, den), w in zip(parts, pw, strict=True):
            if num:
                rows[0].append(self.draw(num, x + (w - width(num)) / 2, y - 7.5))
                rows[2].append(self.draw(den, x + (w - width(den)) / 2, y + 9))
                self.doc[self.pno].draw_line((x + 1, y - 3.4), (x + w - 1, y - 3.4), color=(0, 0, 0), width=0.5)
            else:
                rows[1].append(self.draw(main, x, y))
            x += w
        if tag:
            tw = text_width(tag, "tiro", SIZE)
            self.text.put(self.pno, (self.x0 + self.w - tw, y), tag, "tiro", SIZE, color=None)
            rows[1].append(tag)
        self.page.truth += [" ".join(r for r in row if r) for row in rows if any(row)]
        self.advance(9 if fracs else 3)

    def items(self, text: str) -> None:
        cells = re.split(r"\s{3,}", text)
        if len(cells) == 1:
            self.paragraph(text, "", 0.0, hang=14.0, justify=False)
            return
        y = self.advance(LEAD)
        self.page.truth.append(
            " ".join(self.draw(runs(c, SIZE), self.x0 + k * self.w / len(cells), y) for k, c in enumerate(cells))
        )

    def footnotes(self, notes: list[str]) -> list[str]:
        """Footnotes at the foot of the page (bottom-aligned, under a short rule); returns their truth lines."""
        lines = [ln for n in notes for ln in self.wrap_runs(n, NOTE, LM, TEXT_W)]
        y = BOTTOM - NOTE_LEAD * (len(lines) - 1)
        self.doc[self.pno].draw_line((LM, y - 11), (LM + 70, y - 11), color=(0, 0, 0), width=0.4)
        out = []
        for k, rs in enumerate(lines):
            out.append(self.draw(rs, LM, y + k * NOTE_LEAD))
        return out

    def wrap_runs(self, text: str, size: float, x0: float, w: float) -> list[list[Run]]:
        lines: list[list[Run]] = [[]]
        for word in words(runs(text, size)):
            cand = lines[-1] + ([(" ", "tiro", size, 0.0)] if lines[-1] else []) + word
            if lines[-1] and width(cand) > w:
                lines.append(list(word))
            else:
                lines[-1] = cand
        return lines

    def run(self) -> None:
        notes = [t for k, t, _ in self.page.blocks if k == "^"]
        n_note_lines = sum(len(self.wrap_runs(t, NOTE, LM, TEXT_W)) for t in notes)
        self.notes_h = NOTE_LEAD * n_note_lines + 14 if notes else 0.0
        col_top = None  # two columns start under the page's opening headings, which span both
        for kind, text, tag in self.page.blocks:
            if self.page.cols == 2 and col_top is None and kind not in ("#", "##"):
                self.w, col_top = (TEXT_W - GAP) / 2, self.y
            if kind == "col":
                self.x0, self.y = LM + self.w + GAP, col_top if col_top is not None else self.y
                continue
            if kind == "#":
                self.centred(text, "tibo", 12.0)
                self.advance(4)
            elif kind == "##":
                self.advance(4)
                self.centred(text, "tiit", SIZE)
                self.advance(2)
            elif kind in (">", "+", ""):
                self.paragraph(text, tag, 15.0 if kind == ">" else 0.0)
            elif kind == "=":
                self.display(text, tag)
            elif kind == "-":
                self.items(text)
        if notes:
            self.page.truth += self.footnotes(notes)
        self.text.flush()


def running_head(doc: pymupdf.Document, pno: int, title: str, number: int, opening: bool) -> None:
    """Old-book style: the title centred and the page number at the outer edge; an opening page has only its
    number, centred at the foot."""
    text = TextLayer(doc)
    num = str(number)
    if opening:
        text.put(pno, ((PAGE_W - text_width(num, "tiro", 9)) / 2, FOOT_Y), num, "tiro", 9, color=None)
    else:
        text.put(pno, ((PAGE_W - text_width(title, "tiro", 8.5)) / 2, HEAD_Y), title, "tiro", 8.5, color=None)
        x = LM if number % 2 == 0 else PAGE_W - RM - text_width(num, "tiro", 9)
        text.put(pno, (x, HEAD_Y), num, "tiro", 9, color=None)
    text.flush()


def degrade(png: bytes, seed: int, blur: float = 0.6, noise: float = 9.0, quality: int = 70) -> bytes:
    """A cheap scanner's image: grey paper and ink, optical blur, sensor noise, JPEG; seeded, so deterministic."""
    img = Image.open(io.BytesIO(png)).convert("L").filter(ImageFilter.GaussianBlur(blur))
    rng = np.random.default_rng(seed)
    a = np.asarray(img, dtype=np.float32)
    paper, ink = 236.0 - 6 * rng.random(), 28.0 + 12 * rng.random()
    a = ink + a * (paper - ink) / 255.0 + rng.normal(0.0, noise, a.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), mode="L").save(out, "JPEG", quality=quality)
    return out.getvalue()


def build_book(src: Path, out_pdf: Path, first_scan: int = 0) -> list[dict[str, Any]]:
    """One source -> one image-only PDF; returns its truth records. `first_scan` offsets the seeds and angles."""
    meta, pages = parse_source(src.read_text(encoding="utf-8"))
    first = int(meta.get("first_page", "1"))
    doc = pymupdf.open()
    for pno, page in enumerate(pages):
        doc.new_page(width=PAGE_W, height=PAGE_H)
        Typesetter(doc, pno, page).run()
        opening = bool(page.blocks) and page.blocks[0][0] == "#"
        running_head(doc, pno, meta.get("title", ""), first + pno, opening)
    out = pymupdf.open()
    records = []
    for pno, page in enumerate(pages):
        k = first_scan + pno
        png = render_scan(doc, pno, angle=ANGLES[k % len(ANGLES)], dpi=SCAN_DPI, speckle=Speckle(seed=k, count=60))
        add_image_page(out, degrade(png, seed=k), PAGE_W, PAGE_H)
        body = [round((page.top - 4) / PAGE_H, 4), round((page.bottom + 4) / PAGE_H, 4)]
        records.append(
            {"file": out_pdf.name, "page": pno + 1, "text": "\n".join(page.truth), "body": body, "columns": page.cols}
        )
    save_pdf(out, out_pdf, metadata=fixed_metadata(title=meta.get("title", ""), creator=CREATOR), close=True)
    doc.close()
    return records


def build_truth_set(sources: Path, output: Path) -> list[dict[str, Any]]:
    """Every `sources/*.txt` -> `output/<stem>.pdf`, plus `output/truth.json` (the records); returns the records."""
    records: list[dict[str, Any]] = []
    srcs = sorted(sources.glob("*.txt"))
    if not srcs:
        raise FileNotFoundError(f"no *.txt page sources in {sources}")
    for src in srcs:
        records += build_book(src, output / f"{src.stem}.pdf", first_scan=len(records))
    write_json(output / "truth.json", records)
    return records
