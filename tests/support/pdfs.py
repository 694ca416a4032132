"""Small factories for "real-world-like" PDFs, for tests of ingest / segment and friends.

Every function writes ONE file at ``path`` (a ``str`` or ``Path``, typically under pytest's ``tmp_path``) and returns
that path as a ``Path``. They use real PyMuPDF only and are deterministic where PDF allows it (encryption salts are
random by design, so ``encrypted_pdf`` output differs byte-wise between calls; its behaviour does not). Fonts,
rasterised "scans" and the deterministic save come from ``tutorforge.pdf.writer`` (shared with the corpus builder).

    from tests.support.pdfs import two_column_scan, deep_outline_book, blank_page_pdf, cyclic_outline_pdf
    from tests.support.pdfs import encrypted_pdf, truncated_pdf, zero_byte, not_a_pdf, text_pdf

* ``text_pdf(path, pages)``           plain text-layer pages (one string per page), Helvetica 11 pt.
* ``two_column_scan(path)``          ONE image-only page (grayscale 200 dpi raster, ~1.2 deg skew, no text layer) of a
                                     two-column page; ``TWO_COLUMN_TEXT`` holds the (left, right) column texts.
* ``deep_outline_book(path, chapters=6, depth=3)``  a book with one page per outline node (chapters x 2 sections x 2
                                     subsections = 42 pages by default), a 3-level outline and matching headings.
* ``blank_page_pdf(path)``           one page with neither text nor image.
* ``cyclic_outline_pdf(path)``       3 pages, 3 outline items whose /Next chain loops (last -> first).
* ``encrypted_pdf(path, user_pw="user", owner_pw="owner")``  AES-256; ``user_pw=""``/None gives an owner-only PDF
                                     that opens without a password; otherwise ``needs_pass`` is true.
* ``truncated_pdf(src, path, keep=0.5)``  the first ``keep`` fraction of ``src``'s bytes (no trailer / xref).
* ``zero_byte(path)``                an empty file named .pdf.
* ``not_a_pdf(path)``                an HTML error page saved with a .pdf name.
* ``huge_page_pdf(path, side=6000)`` an A4 text page, then an image-only page ``side`` x ``side`` pt (a poster: at
                                     300 dpi its render would be 25000 x 25000 px, 625 MP).
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

from tutorforge.pdf.writer import Speckle, add_image_page, render_scan, save_pdf

A4 = pymupdf.paper_rect("a4")
MARGIN = 56

TWO_COLUMN_TEXT = (
    "Plants make their own food by photosynthesis. Light energy is captured by chlorophyll in the chloroplasts "
    "and is used to turn carbon dioxide and water into glucose. Oxygen is released as a by-product, which is why "
    "green plants are important for animals that breathe.",
    "A force is a push or a pull. When an unbalanced force acts on an object, the object speeds up, slows down or "
    "changes direction. Newton's second law states that force equals mass times acceleration, so a larger mass "
    "needs a larger force for the same change in speed.",
)


METADATA = {"producer": "tutorforge tests/pdf_factory", "creator": "tutorforge"}


def _save(doc: pymupdf.Document, path: str | Path, **options) -> Path:
    """Deterministic save (tutorforge.pdf.writer.save_pdf) with the factory's metadata; closes `doc`."""
    return save_pdf(doc, path, metadata=METADATA, close=True, **options)


def text_pdf(path: str | Path, pages: list[str], fontsize: float = 11) -> Path:
    """Plain text pages: each string is laid out in a textbox with 56 pt margins."""
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page(width=A4.width, height=A4.height)
        page.insert_textbox(A4 + (MARGIN, MARGIN, -MARGIN, -MARGIN), text, fontname="helv", fontsize=fontsize)
    return _save(doc, path)


def two_column_scan(path: str | Path, angle: float = 1.2, dpi: int = 200, seed: int = 0) -> Path:
    """A two-column page rasterised to a grayscale image-only page with a slight skew and a little speckle noise."""
    src = pymupdf.open()
    page = src.new_page(width=A4.width, height=A4.height)
    page.insert_text((MARGIN, 70), "Unit 3  Energy in Living Things and Machines", fontname="hebo", fontsize=16)
    gap = 24
    colw = (A4.width - 2 * MARGIN - gap) / 2
    for i, text in enumerate(TWO_COLUMN_TEXT):
        x0 = MARGIN + i * (colw + gap)
        page.insert_textbox(pymupdf.Rect(x0, 100, x0 + colw, A4.height - MARGIN), text, fontname="helv", fontsize=11)
    # mild speckle, like dust on a scanner glass; drawn before the skew, so the specks turn with the page
    Speckle(seed=seed, count=120, radius=(0.2, 0.5), gray=0.4).draw(page)
    out = pymupdf.open()
    add_image_page(out, render_scan(src, 0, angle=angle, dpi=dpi, image_format="png"), A4.width, A4.height)
    src.close()
    return _save(out, path)


def deep_outline_book(path: str | Path, chapters: int = 6, depth: int = 3, fanout: int = 2) -> Path:
    """One page per outline node; levels are Chapter N / N.M Section / N.M.K Topic (depth 1..3)."""
    depth = max(1, min(depth, 3))
    doc = pymupdf.open()
    toc: list[list] = []

    def add_page(level: int, title: str) -> None:
        page = doc.new_page(width=A4.width, height=A4.height)
        size = {1: 20, 2: 14, 3: 12}[level]
        page.insert_text((MARGIN, 90), title, fontname="hebo", fontsize=size)
        body = (
            f"This page belongs to {title}. It explains one idea in a few sentences so that the page has a real "
            "text layer. Because every node of the outline has its own page, the outline depth can be checked "
            "against the headings printed on the pages."
        )
        page.insert_textbox(pymupdf.Rect(MARGIN, 120, A4.width - MARGIN, A4.height - MARGIN), body, fontsize=11)
        page.insert_text((A4.width / 2 - 6, A4.height - 30), str(doc.page_count), fontname="helv", fontsize=9)
        toc.append([level, title, doc.page_count])

    for c in range(1, chapters + 1):
        add_page(1, f"Chapter {c}  Topic {c}")
        if depth < 2:
            continue
        for s in range(1, fanout + 1):
            add_page(2, f"{c}.{s} Section {c}.{s}")
            if depth < 3:
                continue
            for t in range(1, fanout + 1):
                add_page(3, f"{c}.{s}.{t} Topic {c}.{s}.{t}")
    while doc.page_count < 30:  # guarantee >= 30 pages even for small chapter counts
        add_page(1, f"Appendix {doc.page_count + 1}")
    doc.set_toc(toc)
    return _save(doc, path)


def blank_page_pdf(path: str | Path) -> Path:
    """A single page with no text and no image (an empty content stream)."""
    doc = pymupdf.open()
    doc.new_page(width=A4.width, height=A4.height)
    return _save(doc, path)


def _outline_items(doc: pymupdf.Document) -> list[int]:
    """xrefs of the top-level outline items, following /First then /Next (no cycle protection needed here)."""
    cat = doc.pdf_catalog()
    kind, val = doc.xref_get_key(cat, "Outlines")
    assert kind == "xref", (kind, val)
    outlines = int(val.split()[0])
    items = []
    kind, val = doc.xref_get_key(outlines, "First")
    while kind == "xref" and len(items) < 1000:
        x = int(val.split()[0])
        items.append(x)
        kind, val = doc.xref_get_key(x, "Next")
    return items


def cyclic_outline_pdf(path: str | Path) -> Path:
    """Three pages and a flat 3-item outline whose last item's /Next points back to the first (a loop)."""
    doc = pymupdf.open()
    for i in range(3):
        page = doc.new_page(width=A4.width, height=A4.height)
        page.insert_text((MARGIN, 90), f"Chapter {i + 1}  Looping outline", fontname="hebo", fontsize=20)
        page.insert_text((MARGIN, 130), f"Body text of chapter {i + 1}.", fontname="helv", fontsize=11)
    doc.set_toc([[1, f"Chapter {i + 1}", i + 1] for i in range(3)])
    items = _outline_items(doc)
    doc.xref_set_key(items[-1], "Next", f"{items[0]} 0 R")
    doc.xref_set_key(items[0], "Prev", f"{items[-1]} 0 R")
    return _save(doc, path, garbage=0)  # garbage collection must not "repair" the loop away


def encrypted_pdf(path: str | Path, user_pw: str | None = "user", owner_pw: str = "owner") -> Path:
    """AES-256 encrypted 2-page PDF. With a user password it needs one to open; without, only the owner password is set
    (opens normally, printing/copying restricted)."""
    doc = pymupdf.open()
    for i in range(2):
        page = doc.new_page(width=A4.width, height=A4.height)
        page.insert_text((MARGIN, 90), f"Secret page {i + 1}: the mitochondrion releases energy.", fontsize=11)
    perms = pymupdf.PDF_PERM_ACCESSIBILITY | pymupdf.PDF_PERM_PRINT if not user_pw else 4095
    return _save(
        doc,
        path,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        owner_pw=owner_pw,
        user_pw=user_pw or "",
        permissions=perms,
        no_new_id=False,
    )


def truncated_pdf(src: str | Path, path: str | Path, keep: float = 0.5) -> Path:
    """Copy only the first ``keep`` fraction of ``src``'s bytes (the xref table and trailer are lost)."""
    data = Path(src).read_bytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def zero_byte(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def not_a_pdf(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<!DOCTYPE html><html><body><h1>404 Not Found</h1><p>The textbook was moved.</p></body></html>\n")
    return path


def huge_page_pdf(path: str | Path, side: float = 6000.0) -> Path:
    """Page 1: A4 with a text layer; page 2: a side x side pt page holding only a small image (it needs OCR)."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_textbox(A4 + (MARGIN, MARGIN, -MARGIN, -MARGIN), "Enzymes speed up reactions. " * 6, fontsize=11)
    poster = doc.new_page(width=side, height=side)
    dot = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 8, 8), False)
    dot.clear_with(96)
    poster.insert_image(pymupdf.Rect(100, 100, 400, 400), pixmap=dot)
    return _save(doc, path)
