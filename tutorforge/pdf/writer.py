"""The one PDF writer: the PyMuPDF primitives the corpus builder (tutorforge.corpus.build) and the test PDF factories
(tests/support/pdfs.py, tutorforge.corpus.textbook_pages) share.

    from tutorforge.pdf.writer import TextLayer, Speckle, append_scan, fixed_metadata, save_pdf, text_width

    doc = pymupdf.open()
    doc.new_page(width=595, height=842)
    text = TextLayer(doc)
    text.put(0, (72, 100), "The ﬁrst step needs light", "helv", 11)   # embedded font: the ligature survives
    text.flush()
    out = pymupdf.open()
    append_scan(out, doc, 0, angle=1.2, dpi=200, speckle=Speckle(seed=3, count=40))   # an image-only "scan"
    save_pdf(out, "book.pdf", metadata=fixed_metadata(title="Exploring Biology"))

Everything is deterministic for a given input: fonts are PyMuPDF's built-in ones, noise comes from a seeded RNG,
and `save_pdf` writes no new /ID (with `fixed_metadata`, no wall-clock date either), so a rebuild is byte-identical.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pymupdf

FIXED_DATE = "D:20260101000000Z"
"""The creation/modification date every deterministic build writes (never the wall clock)."""

Color = tuple[float, ...]

# PyMuPDF's methods are unannotated, so pyright takes the type of a parameter from its default: `fontsize=11` and
# `rotate=0` read as int, yet both take any float (10.5 pt text, a 0.8 degree skew). The three calls that pass one
# carry a `reportArgumentType` ignore for exactly that reason.


# ---- fonts ---------------------------------------------------------------------------------------------------------
@cache
def font(name: str) -> pymupdf.Font:
    """The PyMuPDF built-in font `name` ("helv", "hebo", "heit", "tiit", ...), loaded once per process."""
    return pymupdf.Font(name)


def text_width(text: str, font_name: str, size: float) -> float:
    """Advance width of `text` in points when set in `font_name` at `size` pt."""
    return font(font_name).text_length(text, fontsize=size)  # pyright: ignore[reportArgumentType]


def check_glyphs(text: str, font_name: str) -> None:
    """Raise ValueError when `font_name` cannot draw some character of `text` (it would silently vanish)."""
    f = font(font_name)
    for ch in set(text):
        if not f.has_glyph(ord(ch)):
            raise ValueError(f"font {font_name} has no glyph for {ch!r} in {text!r}")


# ---- text ----------------------------------------------------------------------------------------------------------
class TextLayer:
    """Text drawn with embedded fonts (so U+FB01/U+FB02 ligatures stay in the text layer): one `TextWriter` per
    (page, colour) collects the lines; `flush()` writes them onto their pages in (page, colour) order."""

    def __init__(self, doc: pymupdf.Document) -> None:
        self.doc = doc
        self._writers: dict[tuple[int, Color | None], pymupdf.TextWriter] = {}

    def put(
        self,
        pno: int,
        pos: tuple[float, float],
        text: str,
        font_name: str,
        size: float,
        color: Color | None = (0, 0, 0),
    ) -> float:
        """Queue `text` with its baseline starting at `pos` on page `pno`; returns its width (pt).
        `color=None` leaves the colour to the writer's default (black)."""
        check_glyphs(text, font_name)
        key = (pno, None if color is None else tuple(color))
        if key not in self._writers:
            self._writers[key] = pymupdf.TextWriter(self.doc[pno].rect, color=color)
        self._writers[key].append(pos, text, font=font(font_name), fontsize=size)  # pyright: ignore[reportArgumentType]
        return text_width(text, font_name, size)

    def flush(self) -> None:
        """Write every queued line onto its page (pages ascending, then colours) and forget them."""
        for (pno, _), tw in sorted(self._writers.items(), key=lambda kv: (kv[0][0], kv[0][1] or ())):
            tw.write_text(self.doc[pno])
        self._writers.clear()


# ---- scans ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Speckle:
    """Seeded dust specks (small filled grey circles), like a cheap scanner glass."""

    seed: int
    count: int
    radius: tuple[float, float] = (0.15, 0.3)
    gray: float = 0.6

    def draw(self, page: pymupdf.Page) -> None:
        """Draw the specks uniformly over `page`; the same seed always gives the same specks."""
        rng = random.Random(self.seed)
        w, h = page.rect.width, page.rect.height
        shape = page.new_shape()
        for _ in range(self.count):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            shape.draw_circle((x, y), rng.uniform(*self.radius))
        shape.finish(color=(self.gray,) * 3, fill=(self.gray,) * 3)
        shape.commit()


def render_scan(
    src: pymupdf.Document,
    pno: int,
    *,
    angle: float = 0.0,
    dpi: int = 200,
    image_format: str = "png",
    jpg_quality: int = 75,
    speckle: Speckle | None = None,
) -> bytes:
    """Page `pno` of `src` as a scanner would see it: rotated by `angle` degrees, specks (after the rotation) if
    given, rendered grayscale at `dpi`; returns the image file bytes ("png" or "jpg")."""
    rect = src[pno].rect
    tmp = pymupdf.open()
    page = tmp.new_page(width=rect.width, height=rect.height)
    page.show_pdf_page(page.rect, src, pno, rotate=angle)  # pyright: ignore[reportArgumentType]
    if speckle is not None:
        speckle.draw(page)
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, annots=False)
    data = pix.tobytes("jpg", jpg_quality=jpg_quality) if image_format in ("jpg", "jpeg") else pix.tobytes(image_format)
    tmp.close()
    return data


def add_image_page(doc: pymupdf.Document, image: bytes, width: float, height: float) -> pymupdf.Page:
    """Append a page to `doc` that holds only `image`, stretched over the whole page (no text layer)."""
    page = doc.new_page(width=width, height=height)
    page.insert_image(page.rect, stream=image)
    return page


def append_scan(out: pymupdf.Document, src: pymupdf.Document, pno: int, **scan: Any) -> pymupdf.Page:
    """Append page `pno` of `src` to `out` as an image-only scan (`scan`: the options of `render_scan`)."""
    rect = src[pno].rect
    return add_image_page(out, render_scan(src, pno, **scan), rect.width, rect.height)


def copy_pages(out: pymupdf.Document, src: pymupdf.Document, scans: Iterable[int] = (), **scan: Any) -> None:
    """Append every page of `src` to `out`; 0-based pages listed in `scans` become image-only scans."""
    scans = set(scans)
    for i in range(src.page_count):
        if i in scans:
            append_scan(out, src, i, **scan)
        else:
            out.insert_pdf(src, from_page=i, to_page=i)


# ---- saving --------------------------------------------------------------------------------------------------------
def fixed_metadata(
    title: str = "",
    author: str = "",
    subject: str = "",
    creator: str = "",
    producer: str = "PyMuPDF",
    keywords: str = "",
) -> dict[str, str]:
    """A complete /Info dictionary with FIXED_DATE as creation and modification date."""
    return {
        "title": title,
        "author": author,
        "subject": subject,
        "creator": creator,
        "producer": producer,
        "creationDate": FIXED_DATE,
        "modDate": FIXED_DATE,
        "keywords": keywords,
        "trapped": "",
    }


def save_pdf(
    doc: pymupdf.Document,
    path: str | Path,
    *,
    metadata: dict[str, str] | None = None,
    subset_fonts: bool = False,
    atomic: bool = False,
    close: bool = False,
    **options: Any,
) -> Path:
    """Save `doc` deterministically: garbage=4, deflate, no new /ID (`options` override or add `Document.save`
    options). `metadata` replaces the /Info dictionary first; `subset_fonts` keeps only the glyphs used; `atomic`
    writes `<path>.tmp` and renames it; `close` closes `doc` afterwards. Returns `path` as a Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if metadata is not None:
        doc.set_metadata(metadata)
    if subset_fonts:
        doc.subset_fonts()
    opts = {"garbage": 4, "deflate": True, "no_new_id": True, **options}
    if atomic:
        tmp = path.with_suffix(path.suffix + ".tmp")
        doc.save(str(tmp), **opts)
        tmp.replace(path)
    else:
        doc.save(str(path), **opts)
    if close:
        doc.close()
    return path
