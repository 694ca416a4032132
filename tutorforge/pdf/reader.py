"""PDF reading for ingest: validate a file, walk its outline safely, read a page's text layer or OCR it.

Everything here works on PDFs we did not make: no assumption about producer, fonts or layout. PyMuPDF and the
tesseract binary are the only engines. A "line" is `(text, size_pt, bold, y0, y1)` with y0/y1 the line box's
top/bottom as a fraction of the page height; text is raw (clean-up is tutorforge.text.clean's job).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from tutorforge.pdf import ocr as ocrmod
from tutorforge.pdf import tesseract

Line = tuple[str, float, bool, float, float]


class BadInput(Exception):
    """A file (or part of it) that cannot be read as a PDF; the message is the one-line quarantine reason."""


def _describe(head: bytes) -> str:
    if head.startswith(b"\x89PNG"):
        return "PNG image"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG image"
    if head[:2] == b"PK":
        return "ZIP archive"
    low = head[:512].lower()
    if b"<html" in low or b"<!doctype html" in low:
        return "HTML document"
    try:
        head[:512].decode("utf-8")
        return "text file"
    except UnicodeDecodeError:
        return "binary data"


def open_pdf(path: str | Path) -> Any:
    """Open and validate a PDF; raise BadInput with a one-line reason for empty, non-PDF, encrypted, truncated files."""
    import pymupdf

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise BadInput("empty file (0 bytes)")
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, size - 2048))
        tail = f.read()
    if b"%PDF-" not in head:
        raise BadInput(f"not a PDF: no %PDF- header (looks like {_describe(head)})")
    try:
        doc = pymupdf.open(str(path), filetype="pdf")
    except Exception as e:  # noqa: BLE001 - any open failure is a bad file
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        what = "truncated or damaged PDF (no %%EOF at the end)" if b"%%EOF" not in tail else "unreadable PDF"
        raise BadInput(f"{what}: MuPDF cannot open it ({msg})") from e
    if doc.needs_pass:
        raise BadInput("encrypted: user password required")
    try:
        n = doc.page_count
        if n:
            doc.load_page(n - 1)  # the page tree resolves to the last page
    except Exception as e:  # noqa: BLE001
        raise BadInput(f"truncated or damaged PDF: page tree unreadable ({str(e).splitlines()[0][:120]})") from e
    if n == 0:
        raise BadInput("no pages: truncated or damaged PDF (xref/page tree missing)")
    if doc.is_repaired and b"%%EOF" not in tail:
        raise BadInput(f"truncated PDF: no %%EOF at the end, xref repaired by MuPDF ({n} pages recovered)")
    return doc


def check_outline(doc: Any, max_items: int = 100_000, max_depth: int = 64) -> str | None:
    """Walk /Outlines via the xref API with a visited set (get_toc may loop on cycles).

    Returns None when there is no outline, "" when the tree is sound, or a one-line reason when it is invalid."""
    cat = doc.pdf_catalog()
    kind, val = doc.xref_get_key(cat, "Outlines")
    if kind == "null":
        return None
    if kind != "xref":
        return f"/Outlines is a {kind}, not a reference"
    root = int(val.split()[0])
    kind, val = doc.xref_get_key(root, "First")
    if kind == "null":
        return None
    seen: set[int] = {root}
    stack: list[tuple[str, str, int]] = [(kind, val, 1)]
    while stack:
        kind, val, depth = stack.pop()
        if kind == "null":
            continue
        if kind != "xref":
            return f"outline item link is a {kind}, not a reference"
        x = int(val.split()[0])
        if x in seen:
            return f"cycle in outline (item {x} 0 R reached twice)"
        if not 0 < x < doc.xref_length():
            return f"outline item {x} 0 R does not exist"
        seen.add(x)
        if len(seen) > max_items or depth > max_depth:
            return f"outline too large (> {max_items} items or depth > {max_depth})"
        stack.append((*doc.xref_get_key(x, "Next"), depth))
        stack.append((*doc.xref_get_key(x, "First"), depth + 1))
    return ""


def read_outline(doc: Any) -> tuple[list[dict[str, Any]], str]:
    """(entries [{level, title, page}], status "ok" | "none" | "invalid: <reason>"); page is null if unresolved."""
    try:
        problem = check_outline(doc)
        if problem is None:
            return [], "none"
        if problem:
            return [], f"invalid: {problem}"
        toc = doc.get_toc(simple=True)
    except Exception as e:  # noqa: BLE001
        return [], f"invalid: {type(e).__name__}: {e}"
    entries = [
        {
            "level": int(lvl),
            "title": " ".join(unicodedata.normalize("NFKC", str(t)).split()),
            "page": int(p) if p >= 1 else None,
        }
        for lvl, t, p in toc
    ]
    bad = [e for e in entries if e["page"] is not None and e["page"] > doc.page_count]
    if bad:
        return [], f"invalid: {len(bad)} entries point past the last page ({doc.page_count})"
    return entries, "ok" if entries else "none"


def _is_bold(flags: int, font: str) -> bool:
    f = font.lower().split("+")[-1]
    return (
        bool(flags & 16)
        or any(w in f for w in ("bold", "black", "heavy"))
        or f in ("hebo", "tibo", "cobo")
        or f.endswith(("-bo", "-bd", ",bold"))
    )


def text_lines(page: Any) -> list[Line]:
    """Lines of the page's text layer (content order) with dominant font size (pt) and bold flag."""
    import pymupdf

    flags = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
    out: list[Line] = []
    h = page.rect.height or 1.0
    for block in page.get_text("dict", flags=flags)["blocks"]:
        for line in block.get("lines", ()):
            spans = line["spans"]
            if len(spans) == 1:  # the common case
                s = spans[0]
                text, size, bold = s["text"], round(s["size"], 1), _is_bold(s["flags"], s["font"])
            else:
                sizes: dict[float, int] = {}
                nb = n = 0
                for s in spans:
                    k = len(s["text"].strip())
                    sizes[round(s["size"], 1)] = sizes.get(round(s["size"], 1), 0) + k
                    nb += k * _is_bold(s["flags"], s["font"])
                    n += k
                text = "".join(s["text"] for s in spans)
                size = max(sizes.items(), key=lambda kv: (kv[1], kv[0]))[0] if sizes else 0.0
                bold = nb * 2 > n
            if text.strip():
                out.append((text, size, bold, line["bbox"][1] / h, line["bbox"][3] / h))
    return out


# letters, digits, spaces, punctuation, and the symbols of school maths/science (arrows, operators, super/subscripts)
_GOOD = re.compile(
    r"[\w\s!-/:-@\[-`{-~\u00a0-\u00bf\u00d7\u00f7\u2010-\u2027\u2030-\u205e\u2070-\u214f"
    r"\u2190-\u22ff\u25a0-\u25ff]"
)
_BAD = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")


def text_quality(text: str) -> tuple[int, float, float]:
    """(non-space chars, share of letters/digits/spaces/punctuation, share of U+FFFD/control/private-use chars)."""
    n = len(text) or 1
    good = n - len(_GOOD.sub("", text)) if text else 0
    bad = len(text) - len(_BAD.sub("", text))
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t"), good / n, bad / n


def ocr_lines(
    page: Any,
    dpi: int,
    language: str,
    psm: int = 3,
    cmd: str = "tesseract",
    timeout: float | None = None,
    scratch: str | None = None,
) -> tuple[list[Line], float]:
    """OCR a rendered page with the tesseract CLI (TSV out): lines with box height in pt, mean word confidence.
    The page image is written to a temporary folder (inside `scratch` when given) and removed after.
    tesseract past `timeout` seconds is killed (tesseract.OcrTimeout)."""
    import pymupdf

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, annots=False)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread per worker: the pool provides the parallelism
    with tempfile.TemporaryDirectory(prefix="page-", dir=scratch) as tmp:  # a file, not stdin: see ocr.despeckled_bmp
        image = Path(tmp) / "page.bmp"
        image.write_bytes(ocrmod.despeckled_bmp(pix, dpi))  # dust specks glued to words garble them
        res = tesseract.run(
            [cmd, str(image), "stdout", "-l", language, "--dpi", str(dpi), "--psm", str(psm), "tsv"],
            timeout=timeout,
            env=env,
        )
    if res.returncode != 0:
        raise RuntimeError(f"tesseract failed ({res.returncode}): {res.stderr.decode(errors='replace')[-300:]}")
    return ocrmod.tsv_lines(res.stdout.decode("utf-8", errors="replace"), pix.height, dpi)
