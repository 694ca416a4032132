"""Build the bundled sample corpus: data/sources/<book>.md -> data/textbooks/<book>.pdf (PyMuPDF only).

    books = build_corpus(Path("data/sources"), Path("/tmp/tb"), truth_dir=Path("/tmp/tb"))   # scripts/build_corpus.py
    info = build_book(Path("data/sources/biology.md"), Path("/tmp/tb/biology.pdf"))

Also writes (into `truth_dir`) `scan_truth.json` (list of {file, page (1-based), text}: the body text drawn on each
image-only page, without running header / page number) and `corpus_manifest.json` (per book: file, subject, title,
pages, scan_pages, has_outline, toc_page, page_labels, headings). The build is deterministic: fixed metadata, no
/ID, seeded noise, fixed rotation angles -> byte-identical PDFs on every run. Source markup: tutorforge.corpus.markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymupdf

from tutorforge.core.io import write_json
from tutorforge.core.logs import get_logger
from tutorforge.corpus.layout import BOTTOM, LM, PAGE_H, PAGE_W, PARA_GAP, RM, TOP, Layout
from tutorforge.corpus.markup import flag, parse_source, scan_pages
from tutorforge.pdf.writer import Speckle, append_scan, fixed_metadata, save_pdf, text_width

log = get_logger(__name__)

SCAN_DPI = 200
SCAN_ANGLES = [0.8, -1.3, 0.0, 1.6, -0.6, 1.1]  # degrees, cycled over a book's scan pages
SCAN_SPECKS = 40  # dust specks per scanned page, seeded by the physical page number
CREATOR = "scripts/build_corpus.py"  # written into every PDF's /Info: changing it changes the committed bytes


def layout_body(blocks: list[tuple]) -> tuple[pymupdf.Document, Layout]:
    """Lay the source blocks out onto body pages (no headers/footers yet); chapters number figures and tables."""
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
            lay.paragraph(
                b[1], indent=14 if b[0] == "li" else 0, bullet=b[0] == "li", gap=2 if b[0] == "li" else PARA_GAP
            )
        elif b[0] == "formula":
            lay.formula(b[1])
        elif b[0] == "example":
            lay.example(b[1])
        elif b[0] == "figure":
            nfig += 1
            lay.figure(b[1], b[2], f"{chap}.{nfig}")
        elif b[0] == "table":
            ntab += 1
            lay.table(b[1], b[2], f"{chap}.{ntab}")
        elif b[0] == "pagebreak":
            lay.new_page()
    return doc, lay


def running_heads(lay: Layout, title: str, label: Callable[[int], str]) -> None:
    """Book title (left) and chapter (right) over every non-opening body page; the printed number at the foot."""
    for i, ps in enumerate(lay.pages):
        if not ps.opening:
            lay.put(LM, 46, title, "heit", 8.5, color=(0.25,) * 3, pno=i)
            lay.put(
                PAGE_W - RM - text_width(ps.chapter, "heit", 8.5), 46, ps.chapter, "heit", 8.5, color=(0.25,) * 3, pno=i
            )
            lay.doc[i].draw_line((LM, 52), (PAGE_W - RM, 52), color=(0.5,) * 3, width=0.5)
        num = label(i)
        lay.put((PAGE_W - text_width(num, "helv", 9)) / 2, PAGE_H - 40, num, "helv", 9, pno=i)
    lay.flush()


def front_matter(
    meta: dict[str, str], headings: list[tuple[int, str, int]], label: Callable[[int], str], name: str
) -> tuple[pymupdf.Document, list[str], int | None]:
    """The title page (+ a "Contents" page with dotted leaders) -> (doc, its page labels, contents page or None)."""
    title, subject, labels = meta["title"], meta["subject"], flag(meta, "page_labels")
    front = pymupdf.open()
    flay = Layout(front)
    flay.new_page()
    flay.put(LM, 250, title, "hebo", 28)
    flay.put(LM, 285, f"A school textbook of {subject} for ages 13 to 16", "heit", 13)
    flay.put(LM, 700, "TutorForge sample corpus: original text written for testing, free to reuse.", "helv", 9)
    front_labels = ["i"] if labels else ["1"]
    toc_page = None
    if flag(meta, "toc_page"):
        flay.new_page()
        flay.put(LM, TOP + 30, "Contents", "hebo", 20)
        y = TOP + 70
        for level, text, pidx in headings:
            if level > 2:
                continue
            x = LM + (0 if level == 1 else 18)
            font = "hebo" if level == 1 else "helv"
            num = label(pidx)
            y += 22 if level == 1 else 16
            flay.put(x, y, text, font, 10.5)
            xe = PAGE_W - RM - text_width(num, "helv", 10.5)
            flay.put(xe, y, num, "helv", 10.5)
            x_dots = x + text_width(text, font, 10.5) + 6
            dot = text_width(". ", "helv", 10.5)
            ndots = int((xe - 6 - x_dots) / dot)
            if ndots > 0:
                flay.put(xe - 6 - ndots * dot, y, ". " * ndots, "helv", 10.5, color=(0.35,) * 3)
        if y > BOTTOM:
            raise ValueError(f"{name}: contents page overflows")
        num = "ii" if labels else "2"
        flay.put((PAGE_W - text_width(num, "helv", 9)) / 2, PAGE_H - 40, num, "helv", 9)
        front_labels.append(num)
        toc_page = 2
    flay.flush()
    return front, front_labels, toc_page


def build_book(src: Path, out_pdf: Path) -> dict[str, Any]:
    """One source -> one PDF; returns its manifest entry plus "_truth" (the scan pages' drawn text)."""
    meta, blocks = parse_source(src.read_text(encoding="utf-8"))
    title, subject = meta["title"], meta["subject"]
    body_doc, lay = layout_body(blocks)
    n_front = 1 + (1 if flag(meta, "toc_page") else 0)
    labels = flag(meta, "page_labels")

    def label(body_idx: int) -> str:  # printed page number of a body page
        return str(body_idx + 1) if labels else str(body_idx + 1 + n_front)

    running_heads(lay, title, label)
    front, front_labels, toc_page = front_matter(meta, lay.headings, label, src.name)

    # assemble: front + body; scanned pages become image-only
    scans = scan_pages(meta)
    doc = pymupdf.open()
    doc.insert_pdf(front)
    truth = []
    for i in range(body_doc.page_count):
        phys = n_front + i + 1
        if phys in scans:
            ps = lay.pages[i]
            if ps.figure or ps.table:
                raise ValueError(f"{src.name}: scan page {phys} holds a figure/table; pick a prose-only page")
            # a cheap scanner: slight rotation, speckles, 200 dpi grayscale, JPEG
            append_scan(
                doc,
                body_doc,
                i,
                angle=SCAN_ANGLES[scans.index(phys) % len(SCAN_ANGLES)],
                dpi=SCAN_DPI,
                image_format="jpg",
                jpg_quality=75,
                speckle=Speckle(seed=phys, count=SCAN_SPECKS),
            )
            truth.append({"file": out_pdf.name, "page": phys, "text": "\n".join(ps.body)})
        else:
            doc.insert_pdf(body_doc, from_page=i, to_page=i)
    bad = [s for s in scans if not n_front < s <= doc.page_count]
    if bad:
        raise ValueError(f"{src.name}: scan_pages {bad} are not body pages (1..{doc.page_count}, front={n_front})")

    toc = [[lvl, text, n_front + pidx + 1] for lvl, text, pidx in lay.headings]
    if flag(meta, "outline"):
        doc.set_toc(toc)
    page_labels = front_labels + [label(i) for i in range(body_doc.page_count)]
    if labels:
        doc.set_page_labels(
            [
                {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
                {"startpage": n_front, "prefix": "", "style": "D", "firstpagenum": 1},
            ]
        )
    n_pages = doc.page_count
    save_pdf(
        doc,
        out_pdf,
        subset_fonts=True,
        atomic=True,
        deflate_images=True,
        deflate_fonts=True,
        use_objstms=0,
        metadata=fixed_metadata(title=title, author="TutorForge sample corpus", subject=subject, creator=CREATOR),
    )
    return {
        "file": out_pdf.name,
        "subject": subject,
        "title": title,
        "pages": n_pages,
        "scan_pages": scans,
        "has_outline": flag(meta, "outline"),
        "toc_page": toc_page,
        "page_labels": page_labels if labels else None,
        "headings": [{"level": lvl, "title": t, "page": p} for lvl, t, p in toc],
        "_truth": truth,
    }


def build_corpus(sources: Path, output: Path, truth_dir: Path) -> list[dict[str, Any]]:
    """Every `sources/*.md` -> `output/<stem>.pdf`; writes scan_truth.json and corpus_manifest.json into
    `truth_dir`; returns the manifest's book entries. Raises FileNotFoundError when there is no source."""
    books = []
    srcs = sorted(sources.glob("*.md"))
    if not srcs:
        raise FileNotFoundError(f"no *.md sources in {sources}")
    for n, src in enumerate(srcs, 1):
        t0 = time.perf_counter()
        info = build_book(src, output / f"{src.stem}.pdf")
        log.info(
            "[%d/%d] %s -> %s: %d pages, %d scans, %.1fs",
            n,
            len(srcs),
            src.name,
            output / info["file"],
            info["pages"],
            len(info["scan_pages"]),
            time.perf_counter() - t0,
        )
        books.append(info)
    truth = [t for b in books for t in b.pop("_truth")]
    write_json(truth_dir / "scan_truth.json", truth)
    write_json(truth_dir / "corpus_manifest.json", {"books": books})
    return books
