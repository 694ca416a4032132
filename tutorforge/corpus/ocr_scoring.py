"""Score OCR against the real-page truth set (tutorforge.corpus.ocr_truth): ingest's page texts vs a naive baseline.

    truth = build_truth_set(Path("data/ocr_truth"), out)
    naive = {(t["file"], t["page"]): naive_ocr_text(out / t["file"], t["page"], t["body"]) for t in truth}
    table = score(truth, {"ingest": ingest_texts, "naive": naive})   # {"pages": [...], "mean": {...}}

The naive baseline is what a reader without a pipeline would do: PyMuPDF's own OCR text page
(`page.get_textpage_ocr(dpi=300, full=True)`) and its plain text. Both systems are scored on the page body only: the
truth has no running heads or page numbers (ingest removes them by design), and the baseline's lines outside the
body band of the page (truth record "body", shares of the page height) are dropped, so neither pays for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.text.cer import cer

Key = tuple[str, int]


def naive_ocr_text(pdf: str | Path, page: int, body: tuple[float, float] | list[float], dpi: int = 300) -> str:
    """PyMuPDF's full-page OCR text of `page` (1-based) at `dpi`, lines whose centre lies in the body band only."""
    import pymupdf

    with pymupdf.open(str(pdf)) as doc:
        pg: Any = doc[page - 1]  # PyMuPDF's stubs type get_text() as str
        tp = pg.get_textpage_ocr(dpi=dpi, full=True)
        h = pg.rect.height or 1.0
        lines = []
        for block in pg.get_text("dict", textpage=tp)["blocks"]:
            for line in block.get("lines", ()):
                y = (line["bbox"][1] + line["bbox"][3]) / 2 / h
                if body[0] <= y <= body[1]:
                    lines.append("".join(s["text"] for s in line["spans"]))
    return "\n".join(lines)


def score(truth: list[dict[str, Any]], systems: dict[str, dict[Key, str]]) -> dict[str, Any]:
    """CER of every system on every truth page (a missing page scores as empty text) and the means, overall and
    over the one-column pages ("mean_one_column": a two-column page is where a line-by-line reader fails most)."""
    pages = []
    for t in truth:
        key = (t["file"], t["page"])
        row: dict[str, Any] = {"file": t["file"], "page": t["page"], "columns": t.get("columns", 1)}
        for name, texts in systems.items():
            row[name] = cer(texts.get(key, ""), t["text"])
        pages.append(row)

    def mean(rows: list[dict[str, Any]]) -> dict[str, float]:
        return {name: sum(r[name] for r in rows) / max(1, len(rows)) for name in systems}

    return {
        "pages": pages,
        "mean": mean(pages),
        "mean_one_column": mean([r for r in pages if r["columns"] == 1]),
    }
