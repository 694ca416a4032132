"""The ingest job: a folder of PDFs -> one cleaned record per page (text layer first, tesseract OCR where missing).

`ingest(cfg)` reads every `*.pdf` directly inside `cfg.input` and returns {"pages", "documents", "quarantine",
"report"}; it writes only its per-document cache (`stages/ingest.py` writes the outputs). Pages run in worker
processes over (document, page) items (tutorforge.pdf.pages, .pool), never in this process: a page that crashes MuPDF,
exhausts memory or hangs costs only that page. Each document's result is cached under `cache_dir` keyed by (file
sha256, output-affecting params + code + tesseract version) (tutorforge.pdf.doc_cache), so adding or changing one PDF
re-processes only that PDF. Records: pages ({doc_id, file, page, page_label, text, method, ocr_confidence, chars,
lines}), documents ({doc_id, file, sha256, n_pages, outline, outline_status, page_labels, title}), quarantine ({file,
page?, reason, action}); every *.pdf name is either a document with pages or a "rejected" quarantine entry.

tesseract is probed once (with a time budget): when it (or an `ocr_language`) is missing and some page needs OCR, the
run fails with one line (tesseract.OcrEngineMissing, a StageError) before writing anything; a corpus whose pages all
have a text layer does not need it, and `ocr: false` quarantines the pages that would need it instead.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.config import Fraction, NonNegInt, PositiveFloat, PositiveInt, config_dict, section
from tutorforge.core.ids import stable_id
from tutorforge.core.logs import get_logger
from tutorforge.core.stage import StageError
from tutorforge.pdf import doc_cache, inputs, ocr, pages, tesseract
from tutorforge.pdf import reader as pdfmod
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
    follow_symlinks: bool = False
    """Read *.pdf symlinks that point outside the input folder (links to files inside it are always read)."""
    workers: NonNegInt = 0
    """Worker processes for the page pool (0 = all cores); pages never run in the stage's own process."""
    chunk_pages: PositiveInt = 16
    """Max text-layer pages per pool task (OCR pages are one task each)."""
    min_text_chars: NonNegInt = 20
    """A page with images and fewer non-space text-layer chars than this is OCRed."""
    min_good_ratio: Fraction = 0.6
    """Text layer is garbage (-> OCR) when letters/digits/punctuation/spaces are a smaller share than this..."""
    max_bad_ratio: Fraction = 0.05
    """... or U+FFFD / control / private-use chars are a larger share than this."""
    ocr: bool = True
    """OCR pages without a usable text layer (false: quarantine them as "OCR disabled"; tesseract is not needed)."""
    ocr_dpi: PositiveInt = 300
    """Render resolution for OCR."""
    ocr_language: str = "eng"
    """tesseract language(s), e.g. "eng+deu" (needs tesseract-ocr-<lang>)."""
    ocr_psm: int = 3
    """tesseract page segmentation mode (3 = automatic layout, handles columns)."""
    tesseract_cmd: str = "tesseract"
    """tesseract binary."""
    ocr_max_megapixels: PositiveFloat = 50.0
    """A page whose render at ocr_dpi would be larger (page size x dpi; 1 byte/pixel) is quarantined, not rendered."""
    page_timeout_s: PositiveFloat = 120.0
    """Time budget per page: tesseract past it is killed, a worker stuck in MuPDF (2x for OCR pages) too; quarantined."""
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


NOT_OUTPUT = (
    "input",
    "output",
    "cache_dir",
    "follow_symlinks",
    "workers",
    "chunk_pages",
    "page_timeout_s",  # a page past it is quarantined as a failure, and a document with a failure is not cached
    "fail_on_bad_input",
)
PROBE_TIMEOUT_S = 30.0  # tesseract --version / --list-langs (at most page_timeout_s)


def params_hash(cfg: IngestConfig, engine_version: str = "none") -> str:
    """Hash of everything that changes the output for a given file: params, this code, tesseract's version."""
    import pymupdf

    h = hashlib.sha256()
    for mod in (sys.modules[__name__], pages, pdfmod, ocr, doc_cache, textclean):
        h.update(Path(inspect.getfile(mod)).read_bytes())
    knobs = {k: v for k, v in config_dict(cfg).items() if k not in NOT_OUTPUT}
    return stable_id(json.dumps(knobs, sort_keys=True), h.hexdigest(), pymupdf.VersionBind, engine_version)


def ingest(cfg: IngestConfig) -> dict[str, Any]:
    """Read every *.pdf in cfg.input; returns {"pages", "documents", "quarantine", "report"} (nothing written).
    Raises FileNotFoundError (no input folder) and tesseract.OcrEngineMissing (a StageError)."""
    t0 = time.perf_counter()
    src = Path(cfg.input)
    if not src.is_dir():
        raise FileNotFoundError(f"input folder {src} does not exist")
    root = src.resolve()
    try:
        names = inputs.pdf_names(src)
    except OSError as e:
        raise StageError(f"input folder {src} cannot be listed: {e.strerror or e}") from None
    workers = cfg.workers or len(os.sched_getaffinity(0))
    engine = tesseract.probe(cfg.tesseract_cmd, min(PROBE_TIMEOUT_S, cfg.page_timeout_s)) if cfg.ocr else None
    key = params_hash(cfg, "off" if engine is None else engine.version or "none")
    cache = Path(cfg.cache_dir) if cfg.cache_dir else None
    results: dict[str, dict[str, Any]] = {}
    todo, seen = [], {}
    for name in names:
        try:
            inputs.check(src / name, root, cfg.follow_symlinks)
            sha = inputs.sha256(src / name)
        except inputs.NotAFile as e:
            results[name] = {"rejected": str(e)}
            continue
        if sha in seen and sha != hashlib.sha256(b"").hexdigest():
            results[name] = {"rejected": f"duplicate: same content as {seen[sha]}"}
            continue
        seen.setdefault(sha, name)
        res = doc_cache.load(doc_cache.entry(cache, sha, key), sha) if cache else None
        if res is not None:
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
        done = pages.process(todo, cfg, workers, engine) if todo else {}
    finally:
        pages.close_docs()
    for name, res in done.items():
        transient = res.pop("transient", False)
        results[name] = res
        if cache and "document" in res and not transient:  # a failed page may not fail next time: not cached
            doc_cache.store(doc_cache.entry(cache, res["document"]["sha256"], key), res)
    out = collect(names, results)
    return {**out, "report": report(out, len(names), results, done, workers, t0)}


def collect(names: list[str], results: dict[str, dict[str, Any]]) -> dict[str, list]:
    """Pages, documents (those with pages) and quarantine entries in file order."""
    page_records, documents, quarantine = [], [], []
    for name in names:
        res = results[name]
        if "rejected" in res:
            quarantine.append({"file": name, "reason": res["rejected"], "action": "rejected"})
            continue
        quarantine += res["quarantine"]
        if res["pages"]:
            documents.append(res["document"])
            page_records += res["pages"]
    return {"pages": page_records, "documents": documents, "quarantine": quarantine}


def report(
    out: dict[str, list],
    n_files: int,
    results: dict[str, dict[str, Any]],
    done: dict[str, Any],
    workers: int,
    t0: float,
) -> dict[str, Any]:
    """report.json: counts (files == files_ok + quarantined_files), OCR confidence, workers, seconds."""
    page_records, quarantine = out["pages"], out["quarantine"]
    ocr_conf = [p["ocr_confidence"] for p in page_records if p["method"] == "ocr"]
    return {
        "files": n_files,
        "files_ok": len(out["documents"]),
        "pages": len(page_records),
        "pages_text": len(page_records) - len(ocr_conf),
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


def summary(report: dict[str, Any]) -> str:
    r = report
    s = (
        f"ingest: {r['pages']} pages from {r['files_ok']}/{r['files']} files ({r['pages_ocr']} OCR, "
        f"{r['docs_cached']} cached); quarantined {r['quarantined_files']} files, {r['quarantined_pages']} pages"
    )
    return s + (f", {r['outlines_ignored']} outlines ignored" if r["outlines_ignored"] else "")
