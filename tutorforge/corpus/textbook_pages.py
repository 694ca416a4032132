"""A tiny textbook-like PDF for ingest clean-up tests: running header + page number on every page, ligatures, a word
hyphenated at a line end, a real hyphen mid-line, a chapter heading at the top of page 1, and optionally a page turned
into a slightly rotated image-only scan (for the OCR path). Used by tests/test_ingest.py and benchmarks/ingest.py.

    textbook_pdf(tmp_path / "in" / "plants.pdf", scan_pages=(3,))   # 5 pages, page 3 image-only; BODY: drawn lines
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

from tutorforge.pdf.writer import TextLayer, copy_pages, save_pdf

W, H = 595.0, 842.0
LM = 60
HEADER = "Exploring Science · Chapter 2 Plants"

# each page: list of body lines (drawn one per line so line breaks are exact); {n} = printed page number
BODY = [
    [
        "Chapter 2  Plants and Light",  # 20 pt heading at the top of the first page
        "Green plants make their own food. This process is called photo-",
        "synthesis and it takes place in the chloroplasts of leaf cells.",
        "The ﬁrst step needs light; the ﬂow of energy is a well-known idea.",
        "Water moves up from the roots through tubes called xylem vessels.",
    ],
    [
        "Leaves are thin and ﬂat, so that light reaches every cell inside.",
        "Small pores called stomata let carbon dioxide into the leaf and",
        "let oxygen and water vapour out. Guard cells open and close them.",
        "On a hot day the pores close to save water, which slows growth.",
    ],
    [
        "Glucose made in the leaf is turned into starch for storage and",
        "into cellulose for new cell walls. Some is used in respiration to",
        "release energy. A plant that is kept in the dark uses up its starch.",
        "You can test a leaf for starch with iodine solution in a lab.",
    ],
    [
        "Farmers grow crops in greenhouses to control the conditions. More",
        "light, warmth and carbon dioxide all speed up the rate of photo-",
        "synthesis until another factor limits it. This is called a",
        "limiting factor, and it explains why growth stops rising.",
    ],
    [
        "Plants also need minerals from the soil. Nitrates are used to",
        "make proteins, and magnesium is needed to make chlorophyll. A",
        "plant that lacks magnesium has yellow leaves between the veins.",
        "Gardeners add fertiliser to replace the minerals that crops use.",
    ],
]


def textbook_pdf(
    path: str | Path, scan_pages: tuple[int, ...] = (), angle: float = 1.0, first_number: int = 12
) -> Path:
    """Write the BODY pages with header/footer; pages listed in scan_pages (1-based) become rotated 200-dpi scans."""
    doc = pymupdf.open()
    text = TextLayer(doc)
    for i, lines in enumerate(BODY):
        page = doc.new_page(width=W, height=H)
        if i > 0:  # the chapter opening page has no running header
            page.insert_text((LM, 40), HEADER, fontname="helv", fontsize=8.5)
        y = 110
        for j, line in enumerate(lines):  # an embedded font keeps U+FB01/U+FB02 ligatures in the text layer
            big = i == 0 and j == 0
            text.put(i, (LM, y), line, "hebo" if big else "helv", 20 if big else 11, color=None)
            y += 40 if big else 16
        text.flush()  # before the page number: the content order is header, body, page number
        num = str(first_number + i)
        page.insert_text((W / 2 - 6, H - 36), num if i % 2 else f"Page {num}", fontname="helv", fontsize=9)
    out = pymupdf.open()
    copy_pages(out, doc, [p - 1 for p in scan_pages], angle=angle, dpi=200, image_format="png")
    return save_pdf(out, path)
