"""Page records (ingest contract) for the segment tests: a styled book, an outline book, and the exactness check.

from tests.support.pages import BODY, assert_exact, heading_book, mkpage, outline_book, para
"""

from __future__ import annotations

BODY = 10.5


def mkpage(
    doc_id: str,
    n: int,
    lines: list[tuple[str, float | None, bool]],
    file: str = "biology_book.pdf",
    method: str = "text",
) -> dict:
    """A pages.jsonl record per the ingest contract, built from (line text, size, bold) triples."""
    parts, recs, pos = [], [], 0
    for t, size, bold in lines:
        recs.append({"start": pos, "end": pos + len(t), "size": size, "bold": bold})
        parts.append(t)
        pos += len(t) + 1
    text = "\n".join(parts)
    return {
        "doc_id": doc_id,
        "file": file,
        "page": n,
        "page_label": str(n),
        "text": text,
        "method": method,
        "ocr_confidence": 91.0 if method == "ocr" else None,
        "chars": len(text),
        "lines": recs,
    }


def para(topic: str, n: int = 5, size: float = BODY) -> list[tuple[str, float, bool]]:
    return [
        (f"{topic} line {i}: the cell membrane controls what enters and leaves the cell by diffusion.", size, False)
        for i in range(n)
    ]


def heading_book(
    doc_id: str = "docA", file: str = "biology_book.pdf", fix_typo: bool = False, h12: str = "1.2 Membranes"
) -> list[dict]:
    """Title page, printed contents page, 2 chapters with numbered sections, an unstyled numbered list item."""
    body = para("Typo fixed" if fix_typo else "Typo fxied")
    return [
        mkpage(doc_id, 1, [("Biology for Schools", 24, True), ("Second edition", 12, False)], file),
        mkpage(
            doc_id,
            2,
            [
                ("Contents", 16, True),
                ("Chapter 1 Cells .......... 3", BODY, False),
                ("1.1 The Cell .......... 3", BODY, False),
                ("1.2 Membranes .......... 4", BODY, False),
                ("Chapter 2 Tissues .......... 5", BODY, False),
                ("2.1 Epithelium .......... 5", BODY, False),
            ],
            file,
        ),
        mkpage(doc_id, 3, [("Chapter 1  Cells", 20, True), *para("Intro"), ("1.1 The Cell", 14, True), *body], file),
        mkpage(
            doc_id,
            4,
            [
                *para("Cont"),
                (h12, 14, True),
                *para("Mem"),
                ("1.3 Not a heading because this list item is plain", BODY, False),
                *para("More"),
            ],
            file,
        ),
        mkpage(doc_id, 5, [("Chapter 2  Tissues", 20, True), ("2.1 Epithelium", 14, True), *para("Epi")], file),
    ]


def outline_book(doc_id: str = "docO") -> tuple[dict, list[dict]]:
    """Outline titles differ from the printed lines: chapter title without "Chapter 2", OCR noise, a missing title."""
    pages = [
        mkpage(doc_id, 1, [("Physics Now", 30, True)], "physics_now.pdf"),
        mkpage(doc_id, 2, [("Chapter 1", 20, True), ("Forces", 20, True), *para("Force")], "physics_now.pdf"),
        mkpage(doc_id, 3, [*para("More"), ("1.1 Newton's Laws", 14, True), *para("Newton")], "physics_now.pdf"),
        mkpage(doc_id, 4, [("1.2 Fr1ction and Drag", 15, False), *para("Drag")], "physics_now.pdf", method="ocr"),
        mkpage(doc_id, 5, [*para("Energy")], "physics_now.pdf"),
    ]
    outline = [
        {"level": 1, "title": "Forces", "page": 2},
        {"level": 2, "title": "1.1 Newton's Laws", "page": 3},
        {"level": 2, "title": "1.2 Friction and Drag", "page": 4},
        {"level": 1, "title": "Energy", "page": 5},
    ]
    doc = {
        "doc_id": doc_id,
        "file": "physics_now.pdf",
        "sha256": "0" * 64,
        "n_pages": 5,
        "outline": outline,
        "outline_status": "ok",
        "page_labels": False,
        "title": "Physics Now",
    }
    return doc, pages


def assert_exact(records: list[dict], pages: list[dict]) -> None:
    """Spans reconstruct every section's text exactly; sections never overlap."""
    texts = {(p["doc_id"], p["page"]): p["text"] for p in pages}
    seen: set[tuple] = set()
    for r in records:
        assert r["text"] == "\n".join(texts[r["doc_id"], s["page"]][s["start"] : s["end"]] for s in r["spans"])
        assert r["n_chars"] == len(r["text"]) and r["text"].strip() == r["text"]
        assert r["page_start"] == r["spans"][0]["page"] and r["page_end"] == r["spans"][-1]["page"]
        for s in r["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(texts[r["doc_id"], s["page"]])
            chars = {(r["doc_id"], s["page"], i) for i in range(s["start"], s["end"])}
            assert not chars & seen
            seen |= chars
