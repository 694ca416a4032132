"""The ingest job: a folder of PDFs -> one cleaned record per page (text layer first, tesseract OCR where missing).

`ingest(cfg)` reads every `*.pdf` directly inside `cfg.input` and returns {"pages", "documents", "quarantine",
"report"}; it writes only its per-document cache (`stages/ingest.py` writes the outputs). Pages run in a process pool
over (document, page) items; each document's result is cached under `cache_dir` keyed by (file sha256,
output-affecting params + code), so adding or changing one PDF re-processes only that PDF. Records: pages
({doc_id, file, page, page_label, text, method, ocr_confidence, chars, lines}), documents ({doc_id, file, sha256,
n_pages, outline, outline_status, page_labels, title}), quarantine ({file, page?, reason, action}).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.config import Fraction, NonNegInt, PositiveFloat, PositiveInt, config_dict, section
from tutorforge.core.ids import sha256_file, stable_id
from tutorforge.core.io import atomic_open, dumps, read_json
from tutorforge.core.logs import get_logger
from tutorforge.pdf import reader as pdfmod
from tutorforge.pdf.pool import run_tasks
from tutorforge.text import clean as textclean

log = get_logger(__name__)


@section("ingest")
@dataclass
class IngestConfig:
    input: str = "data/textbooks"
    """Folder of PDFs (only *.pdf, case-insensitive, directly inside it)."""
    output: str = "artifacts/ingest"
    """Output folder for pages.jsonl, documents.jsonl, quarantine.json, report.json."""
    cache_dir: str = ".cache/ingest"
    """Per-document result cache ("" disables it)."""
    workers: NonNegInt = 0
    """Worker processes for the page pool (0 = all cores, 1 = in-process)."""
    chunk_pages: PositiveInt = 16
    """Max text-layer pages per pool task (OCR pages are one task each)."""
    min_text_chars: NonNegInt = 20
    """A page with images and fewer non-space text-layer chars than this is OCRed."""
    min_good_ratio: Fraction = 0.6
    """Text layer is garbage (-> OCR) when letters/digits/punctuation/spaces are a smaller share than this..."""
    max_bad_ratio: Fraction = 0.05
    """... or U+FFFD / control / private-use chars are a larger share than this."""
    ocr_dpi: PositiveInt = 300
    """Render resolution for OCR."""
    ocr_language: str = "eng"
    """tesseract language(s), e.g. "eng+deu" (needs tesseract-ocr-<lang>)."""
    ocr_psm: int = 3
    """tesseract page segmentation mode (3 = automatic layout, handles columns)."""
    tesseract_cmd: str = "tesseract"
    """tesseract binary."""
    header_margin: Fraction = 0.12
    """Top/bottom band (share of page height) where running headers/footers and page numbers live."""
    header_min_pages: PositiveInt = 3
    """A top/bottom line repeated (digits normalised) on this many pages is a running header/footer..."""
    header_min_fraction: Fraction = 0.2
    """... or on this share of the document's pages if that is fewer (never fewer than 2 pages)."""
    header_max_size_ratio: PositiveFloat = 1.05
    """Lines larger than body size x this are never headers (protects chapter/section headings)."""
    header_coverage: Fraction = 0.8
    """An OCRed margin line is a header when this share of its words are running-header words (misreads, merges)."""
    fail_on_bad_input: bool = False
    """Exit non-zero (writing nothing) when anything is quarantined, instead of skipping it."""


NOT_OUTPUT = ("input", "output", "cache_dir", "workers", "chunk_pages", "fail_on_bad_input")

# ---- work items (run in pool workers) ------------------------------------------------------------------------------
_DOCS: dict[str, Any] = {}


def _doc(path: str) -> Any:
    if path not in _DOCS:
        import pymupdf

        if len(_DOCS) >= 4:
            _close_docs()
        _DOCS[path] = pymupdf.open(path, filetype="pdf")
    return _DOCS[path]


def _close_docs() -> None:
    for d in _DOCS.values():
        d.close()
    _DOCS.clear()


def _run_pool(fn: Callable[..., Any], tasks: list[tuple], workers: int, desc: str) -> list[Any]:
    """run_tasks with no document open in this process: forked workers would inherit its file descriptors and,
    reading through one shared file offset at once, garble each other's pages (a one-chunk text pass runs
    in-process and leaves the document open right before the OCR pool forks)."""
    _close_docs()
    return run_tasks(fn, tasks, workers, desc)


def _probe(path: str) -> dict[str, Any]:
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


def _text_pages(path: str, pnos: list[int], cfg: IngestConfig) -> list[dict[str, Any]]:
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


def _ocr_page(path: str, pno: int, cfg: IngestConfig) -> dict[str, Any]:
    lines, conf = pdfmod.ocr_lines(_doc(path)[pno], cfg.ocr_dpi, cfg.ocr_language, cfg.ocr_psm, cfg.tesseract_cmd)
    if not lines:
        return {"skip": "no text: OCR found nothing on the page image"}
    return {"lines": textclean.normalize_page(lines), "conf": conf}


# ---- the stage -----------------------------------------------------------------------------------------------------
def params_hash(cfg: IngestConfig) -> str:
    """Hash of everything that changes the output for a given file: params, this code, tesseract's version."""
    import pymupdf

    h = hashlib.sha256()
    for mod in (sys.modules[__name__], pdfmod, textclean):
        h.update(Path(inspect.getfile(mod)).read_bytes())
    try:
        tv = subprocess.run([cfg.tesseract_cmd, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        tv = "none"
    knobs = {k: v for k, v in config_dict(cfg).items() if k not in NOT_OUTPUT}
    return stable_id(json.dumps(knobs, sort_keys=True), h.hexdigest(), pymupdf.VersionBind, tv)


def _process(files: list[tuple[str, str, str]], cfg: IngestConfig, workers: int) -> dict[str, dict[str, Any]]:
    """files: (name, path, sha256) -> {name: {"document", "pages", "quarantine"} | {"rejected": reason}}."""
    out: dict[str, dict[str, Any]] = {}
    probes = run_tasks(_probe, [(p,) for _, p, _ in files], workers, "ingest: open")
    docs = {}
    for (name, path, sha), pr in zip(files, probes, strict=True):
        if "bad" in pr or "error" in pr:
            out[name] = {"rejected": pr.get("bad") or f"crashed while opening: {pr['error']}"}
        else:
            docs[name] = (path, sha, pr)
    tasks = [
        (path, list(range(s, min(s + cfg.chunk_pages, pr["n_pages"]))), cfg)
        for path, _, pr in docs.values()
        for s in range(0, pr["n_pages"], cfg.chunk_pages)
    ]
    by_path: dict[str, list[Any]] = {}
    for t, res in zip(tasks, _run_pool(_text_pages, tasks, workers, "ingest: text layer"), strict=True):
        by_path.setdefault(t[0], []).append(res)
    ocr_tasks = [
        (path, r["page"] - 1, cfg)
        for path, _, _ in docs.values()
        for chunk in by_path[path]
        if isinstance(chunk, list)
        for r in chunk
        if r.get("method") == "ocr"
    ]
    ocr = dict(
        zip(((t[0], t[1] + 1) for t in ocr_tasks), _run_pool(_ocr_page, ocr_tasks, workers, "ingest: OCR"), strict=True)
    )
    for name, (path, sha, pr) in docs.items():
        chunks = by_path[path]
        errors = [c["error"] for c in chunks if isinstance(c, dict)]
        pages = [r for c in chunks if isinstance(c, list) for r in c]
        errors += [ocr[(path, r["page"])]["error"] for r in pages if "error" in ocr.get((path, r["page"]), {})]
        if errors:
            out[name] = {"rejected": f"crashed while reading pages: {errors[0]}"}
            continue
        out[name] = _assemble(name, sha, pr, pages, {p: r for (q, p), r in ocr.items() if q == path}, cfg)
    return out


def _assemble(name: str, sha: str, pr: dict, pages: list[dict], ocr: dict[int, dict], cfg: IngestConfig) -> dict:
    """Clean one document's pages (headers need all of them) into final records + its quarantine entries."""
    quarantine, kept = [], []
    for r in pages:
        o = ocr.get(r["page"], {})
        if "skip" in r or "skip" in o:
            quarantine.append(
                {"file": name, "page": r["page"], "reason": r.get("skip") or o["skip"], "action": "page skipped"}
            )
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
    return {"document": document, "pages": records, "quarantine": quarantine}


def ingest(cfg: IngestConfig) -> dict[str, Any]:
    """Read every *.pdf in cfg.input; returns {"pages", "documents", "quarantine", "report"} (nothing written)."""
    t0 = time.perf_counter()
    src = Path(cfg.input)
    if not src.is_dir():
        raise FileNotFoundError(f"input folder {src} does not exist")
    names = sorted(p.name for p in src.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")
    workers = cfg.workers or len(os.sched_getaffinity(0))
    key = params_hash(cfg)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else None
    results: dict[str, dict[str, Any]] = {}
    todo, seen = [], {}
    for name in names:
        sha = sha256_file(src / name)
        if sha in seen and sha != hashlib.sha256(b"").hexdigest():
            results[name] = {"rejected": f"duplicate: same content as {seen[sha]}"}
            continue
        seen.setdefault(sha, name)
        hit = cache / f"{sha[:32]}-{key}.json" if cache else None
        if hit and hit.exists():
            res = read_json(hit)
            for rec in [res["document"], *res["pages"], *res["quarantine"]]:
                rec["file"] = name
            results[name] = {**res, "cached": True}
        else:
            todo.append((name, str(src / name), sha))
    log.info(
        "ingest: %d PDF files in %s (%d cached, %d to process, %d workers)",
        len(names),
        src,
        len(names) - len(todo) - sum("rejected" in r for r in results.values()),
        len(todo),
        workers,
    )
    try:
        done = _process(todo, cfg, workers) if todo else {}
    finally:
        _close_docs()
    for name, res in done.items():
        results[name] = res
        if cache and "document" in res:
            with atomic_open(cache / f"{res['document']['sha256'][:32]}-{key}.json") as f:
                f.write(dumps(res))
    pages, documents, quarantine = [], [], []
    for name in names:
        res = results[name]
        if "rejected" in res:
            quarantine.append({"file": name, "reason": res["rejected"], "action": "rejected"})
            continue
        quarantine += res["quarantine"]
        if res["pages"]:
            documents.append(res["document"])
            pages += res["pages"]
    ocr_conf = [p["ocr_confidence"] for p in pages if p["method"] == "ocr"]
    report = {
        "files": len(names),
        "files_ok": len(documents),
        "pages": len(pages),
        "pages_text": len(pages) - len(ocr_conf),
        "pages_ocr": len(ocr_conf),
        "docs_cached": sum(bool(r.get("cached")) for r in results.values()),
        "docs_processed": sum("document" in r for r in done.values()),
        "quarantined_files": sum(q["action"] == "rejected" for q in quarantine),
        "quarantined_pages": sum(q["action"] == "page skipped" for q in quarantine),
        "outlines_ignored": sum(q["action"] == "outline ignored" for q in quarantine),
        "ocr_mean_confidence": round(sum(ocr_conf) / len(ocr_conf), 2) if ocr_conf else None,
        "workers": workers,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return {"pages": pages, "documents": documents, "quarantine": quarantine, "report": report}


def summary(report: dict[str, Any]) -> str:
    r = report
    s = (
        f"ingest: {r['pages']} pages from {r['files_ok']}/{r['files']} files ({r['pages_ocr']} OCR, "
        f"{r['docs_cached']} cached); quarantined {r['quarantined_files']} files, {r['quarantined_pages']} pages"
    )
    return s + (f", {r['outlines_ignored']} outlines ignored" if r["outlines_ignored"] else "")
