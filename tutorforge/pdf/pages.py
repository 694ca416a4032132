"""The page work of ingest, done in worker processes (tutorforge.pdf.pool), and its assembly into records.

Each document is probed (outline, page labels, title), its pages read from the text layer in chunks, and the pages
without a usable one rendered and OCRed, one task each. Budgets make hostile pages cheap: a page whose render would
exceed `ocr_max_megapixels` is never rendered (the size comes from page.rect x dpi); tesseract past `page_timeout_s`
is killed; a worker stuck in MuPDF is killed by the pool (a text chunk after `page_timeout_s`, then its pages are
retried one by one; an OCR page after twice that). A page that raises, crashes its worker or runs out of time is
quarantined with the reason and the rest of its document goes on; a document left with no page is quarantined.
"""

from __future__ import annotations

import math
import tempfile
from typing import TYPE_CHECKING, Any

from tutorforge.pdf import reader as pdfmod
from tutorforge.pdf import tesseract
from tutorforge.pdf.pool import run_tasks
from tutorforge.text import clean as textclean

if TYPE_CHECKING:
    from tutorforge.pdf.ingest import IngestConfig

# ---- work items (run in pool workers) ------------------------------------------------------------------------------
_DOCS: dict[str, Any] = {}


def _doc(path: str) -> Any:
    if path not in _DOCS:
        import pymupdf

        if len(_DOCS) >= 4:
            close_docs()
        _DOCS[path] = pymupdf.open(path, filetype="pdf")
    return _DOCS[path]


def close_docs() -> None:
    for d in _DOCS.values():
        d.close()
    _DOCS.clear()


def probe_doc(path: str) -> dict[str, Any]:
    """Validate and describe one file: {"bad": reason} or {n_pages, outline, outline_status, page_labels, title}."""
    try:
        doc = pdfmod.open_pdf(path)
    except pdfmod.BadInput as e:
        return {"bad": str(e)}
    outline, status = pdfmod.read_outline(doc)
    try:
        labels = bool(doc.get_page_labels())
    except Exception:  # noqa: BLE001
        labels = False
    title = " ".join(str((doc.metadata or {}).get("title") or "").split()) or None
    n = doc.page_count
    doc.close()
    return {"n_pages": n, "outline": outline, "outline_status": status, "page_labels": labels, "title": title}


def text_pages(path: str, pnos: list[int], cfg: IngestConfig) -> list[dict[str, Any]]:
    """Text-layer records of pages `pnos` (0-based); a page without a usable layer gets method "ocr" + reason."""
    out = []
    doc = _doc(path)
    for pno in pnos:
        page = doc[pno]
        try:
            label = page.get_label()
        except Exception:  # noqa: BLE001 - a broken /PageLabels tree: fall back to the page number
            label = ""
        rec: dict[str, Any] = {"page": pno + 1, "page_label": label or str(pno + 1)}
        lines = pdfmod.text_lines(page)
        n, good, bad = pdfmod.text_quality("".join(ln[0] for ln in lines))
        garbage = n > 0 and (good < cfg.min_good_ratio or bad > cfg.max_bad_ratio)
        if n >= cfg.min_text_chars and not garbage or (n > 0 and not garbage and not page.get_images()):
            rec.update(method="text", lines=textclean.normalize_page(lines))
        elif garbage or page.get_images():
            rec.update(method="ocr", reason="garbage text layer" if garbage else "no text layer")
        else:
            rec.update(skip="blank page: no text layer and no images")
        out.append(rec)
    return out


def ocr_page(path: str, pno: int, cfg: IngestConfig, scratch: str) -> dict[str, Any]:
    """OCR one page (its image written under `scratch`): {"lines", "conf"}, {"skip": reason} (nothing found, too large) or {"fail": reason} (timeout)."""
    page = _doc(path)[pno]
    w, h = page.rect.width, page.rect.height
    mp = math.ceil(w * cfg.ocr_dpi / 72) * math.ceil(h * cfg.ocr_dpi / 72) / 1e6  # 1 byte per gray pixel
    if mp > cfg.ocr_max_megapixels:
        return {
            "skip": f"page too large to render for OCR: {w:.0f} x {h:.0f} pt at {cfg.ocr_dpi} dpi is {mp:.0f} "
            f"megapixels > ingest.ocr_max_megapixels ({cfg.ocr_max_megapixels:g})"
        }
    try:
        lines, conf = pdfmod.ocr_lines(
            page,
            cfg.ocr_dpi,
            cfg.ocr_language,
            cfg.ocr_psm,
            cfg.tesseract_cmd,
            timeout=cfg.page_timeout_s,
            scratch=scratch,
        )
    except tesseract.OcrTimeout:
        t = cfg.page_timeout_s
        return {"fail": f"OCR timed out: tesseract ran past ingest.page_timeout_s ({t:g} s) and was killed"}
    if not lines:
        return {"skip": "no text: OCR found nothing on the page image"}
    return {"lines": textclean.normalize_page(lines), "conf": conf}


# ---- the passes (in this process) ----------------------------------------------------------------------------------
def _run_pool(fn: Any, tasks: list[tuple], workers: int, desc: str, timeout: float) -> list[Any]:
    """run_tasks with no document open in this process: forked workers would inherit its file descriptors and,
    reading through one shared file offset at once, garble each other's pages."""
    close_docs()
    return run_tasks(fn, tasks, workers, desc, timeout)


def _failed(activity: str, res: dict[str, Any], budget: str) -> str:
    """The quarantine reason for a pool failure while doing `activity`."""
    if res.get("failure") == "timeout":
        return f"timed out while {activity}: over {budget}; its worker was killed"
    if res.get("failure") == "crash":
        return f"{res['error']} while {activity}"
    return f"crashed while {activity}: {res['error']}"


def _text_pass(docs: dict[str, tuple], cfg: IngestConfig, workers: int) -> dict[str, list[dict[str, Any]]]:
    """path -> its page records in order; a failed chunk is retried page by page, a failed page gets "fail"."""
    budget = f"ingest.page_timeout_s ({cfg.page_timeout_s:g} s)"
    tasks = [
        (path, list(range(s, min(s + cfg.chunk_pages, pr["n_pages"]))), cfg)
        for path, _, pr in docs.values()
        for s in range(0, pr["n_pages"], cfg.chunk_pages)
    ]
    results = _run_pool(text_pages, tasks, workers, "ingest: text layer", cfg.page_timeout_s)
    failed = [(t, r) for t, r in zip(tasks, results, strict=True) if isinstance(r, dict)]
    retry = [(t[0], [p], cfg) for t, _ in failed if len(t[1]) > 1 for p in t[1]]  # find the culprit page(s)
    again = (
        _run_pool(text_pages, retry, workers, "ingest: text layer, page by page", cfg.page_timeout_s) if retry else []
    )
    single = {(t[0], t[1][0]): r for t, r in [*zip(retry, again, strict=True), *failed] if len(t[1]) == 1}
    pages: dict[str, list[dict[str, Any]]] = {path: [] for path, _, _ in docs.values()}
    for (path, pnos, _), r in zip(tasks, results, strict=True):
        for pno in [] if isinstance(r, list) else pnos:
            rr = single[(path, pno)]
            if isinstance(rr, list):
                pages[path] += rr
            else:
                fail = _failed("reading the text layer", rr, budget)
                pages[path].append({"page": pno + 1, "page_label": str(pno + 1), "fail": fail})
        if isinstance(r, list):
            pages[path] += r
    return pages


def _require_engine(engine: tesseract.Engine | None, cfg: IngestConfig, need: list[tuple[str, int, str]]) -> None:
    """Raise OcrEngineMissing (one line, once) when pages need OCR and the engine or a language is not there."""
    what = f"{len(need)} page(s) in {len({p for p, _, _ in need})} file(s) need OCR"
    off = "or set ingest.ocr: false to quarantine those pages instead"
    if engine is None or engine.problem:
        problem = engine.problem if engine else "not probed"
        raise tesseract.OcrEngineMissing(
            f"OCR engine not usable: ingest.tesseract_cmd {cfg.tesseract_cmd!r} {problem}; {what}. "
            f"Install tesseract (apt-get install tesseract-ocr) {off}"
        )
    missing = engine.missing_languages(cfg.ocr_language)
    if missing:
        raise tesseract.OcrEngineMissing(
            f"tesseract has no language data for {'+'.join(missing)} (ingest.ocr_language {cfg.ocr_language!r}); "
            f"{what}. Install it (apt-get install tesseract-ocr-<lang>) {off}"
        )


def _ocr_pass(
    pages: dict[str, list[dict]], cfg: IngestConfig, workers: int, engine: tesseract.Engine | None
) -> dict[tuple[str, int], dict[str, Any]]:
    """(path, page) -> OCR result for every page whose text layer is not usable."""
    need = [
        (path, r["page"] - 1, r["reason"]) for path, recs in pages.items() for r in recs if r.get("method") == "ocr"
    ]
    if not cfg.ocr:
        return {(p, n + 1): {"skip": f"OCR disabled (ingest.ocr: false): {why}"} for p, n, why in need}
    if need:
        _require_engine(engine, cfg, need)
    budget = f"2 x ingest.page_timeout_s ({2 * cfg.page_timeout_s:g} s)"
    # page images go to one scratch folder that this process removes, so a worker killed mid-page leaves nothing
    with tempfile.TemporaryDirectory(prefix="tf-ocr-") as scratch:
        tasks = [(path, pno, cfg, scratch) for path, pno, _ in need]
        results = _run_pool(ocr_page, tasks, workers, "ingest: OCR", 2 * cfg.page_timeout_s + 10)
    return {
        (path, pno + 1): {"fail": _failed("rendering and OCRing the page", r, budget)} if "error" in r else r
        for (path, pno, _, _), r in zip(tasks, results, strict=True)
    }


def process(
    files: list[tuple[str, str, str]], cfg: IngestConfig, workers: int, engine: tesseract.Engine | None
) -> dict[str, dict[str, Any]]:
    """files: (name, path, sha256) -> {name: {"document", "pages", "quarantine", "transient"} | {"rejected": reason}}.
    engine: the probed OCR engine (None with ocr off); OcrEngineMissing when pages need OCR it cannot do."""
    out: dict[str, dict[str, Any]] = {}
    budget = f"ingest.page_timeout_s ({cfg.page_timeout_s:g} s)"
    probes = _run_pool(probe_doc, [(p,) for _, p, _ in files], workers, "ingest: open", cfg.page_timeout_s)
    docs = {}
    for (name, path, sha), pr in zip(files, probes, strict=True):
        if "bad" in pr:
            out[name] = {"rejected": pr["bad"]}
        elif "error" in pr:
            out[name] = {"rejected": _failed("opening it", pr, budget)}
        else:
            docs[name] = (path, sha, pr)
    pages = _text_pass(docs, cfg, workers)
    ocr = _ocr_pass(pages, cfg, workers, engine)
    for name, (path, sha, pr) in docs.items():
        out[name] = assemble(name, sha, pr, pages[path], {p: r for (q, p), r in ocr.items() if q == path}, cfg)
    return out


def assemble(name: str, sha: str, pr: dict, pages: list[dict], ocr: dict[int, dict], cfg: IngestConfig) -> dict:
    """Clean one document's pages (headers need all of them) into final records + its quarantine entries.
    "transient": a page failed (crash, timeout, exception) rather than being skipped by rule: do not cache it."""
    quarantine, kept, transient = [], [], False
    for r in pages:
        o = ocr.get(r["page"], {})
        reason = r.get("skip") or r.get("fail") or o.get("skip") or o.get("fail")
        if reason:
            quarantine.append({"file": name, "page": r["page"], "reason": reason, "action": "page skipped"})
            transient = transient or "fail" in r or "fail" in o
        else:
            kept.append({**r, "lines": o.get("lines", r.get("lines")), "conf": o.get("conf")})
    cleaned = textclean.clean_document(
        [r["lines"] for r in kept],
        [r["method"] == "ocr" for r in kept],
        normalized=True,
        margin=cfg.header_margin,
        min_pages=cfg.header_min_pages,
        min_fraction=cfg.header_min_fraction,
        max_size_ratio=cfg.header_max_size_ratio,
        coverage=cfg.header_coverage,
    )
    doc_id = sha[:16]
    records = [
        {
            "doc_id": doc_id,
            "file": name,
            "page": r["page"],
            "page_label": r["page_label"],
            "text": text,
            "method": r["method"],
            "ocr_confidence": None if r["conf"] is None else round(r["conf"], 2),
            "chars": len(text),
            "lines": lines,
        }
        for r, (text, lines) in zip(kept, cleaned, strict=True)
    ]
    status = pr["outline_status"]
    if status.startswith("invalid"):
        quarantine.append({"file": name, "reason": f"outline ignored: {status[9:]}", "action": "outline ignored"})
    if not records:  # counted as a quarantined file, not lost from the counts
        n = pr["n_pages"]
        quarantine.append({"file": name, "reason": f"no usable pages: all {n} page(s) skipped", "action": "rejected"})
    document = {
        "doc_id": doc_id,
        "file": name,
        "sha256": sha,
        "n_pages": pr["n_pages"],
        "outline": pr["outline"],
        "outline_status": status,
        "page_labels": pr["page_labels"],
        "title": pr["title"],
    }
    return {"document": document, "pages": records, "quarantine": quarantine, "transient": transient}
