"""Ingest throughput against bare baselines, measured in the same run (cache off), plus OCR CER.

    .venv/bin/python -m benchmarks.ingest          # bundled corpus (data/textbooks + data/sources/scan_truth.json)
    .venv/bin/python -m benchmarks.ingest --copies 6 --ocr-copies 2 --workers 2 --corpus DIR --truth scan_truth.json

text layer: tutorforge.pdf.ingest (pool, clean-up, records) vs a single-process `page.get_text()` loop over the
            same pages.
OCR:        tutorforge.pdf.ingest on the image-only pages vs a single-process pytesseract `image_to_data` loop at the
            same dpi, run twice: with one OpenMP thread per tesseract (OMP_THREAD_LIMIT=1, as the stage runs it: the
            fair baseline, whose ratio is bounded by the number of cores) and with tesseract's default threads (which
            on a small machine burn ~3x the CPU for little wall-clock gain).
OCR CER:    on the real-like pages of data/ocr_truth (retyped public-domain maths books, 200-dpi scans built by
            tutorforge.corpus.ocr_truth): ingest's page text vs PyMuPDF's naive OCR text page
            (`get_textpage_ocr(dpi=300, full=True)`), both scored on the page body (tutorforge.corpus.ocr_scoring).
The corpus text pages are repeated (--copies distinct files: each copy gets its own metadata so it is not a duplicate)
to give enough work; ratio > 1 means the pipeline is faster. Without a built corpus, the synthetic book of
tutorforge.corpus.textbook_pages stands in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymupdf

from tutorforge.core.config import load_config
from tutorforge.core.io import read_json, write_jsonl
from tutorforge.corpus.ocr_scoring import naive_ocr_text, score
from tutorforge.corpus.ocr_truth import build_truth_set
from tutorforge.pdf.ingest import IngestConfig, ingest
from tutorforge.pdf.writer import save_pdf
from tutorforge.text.cer import cer

ROOT = Path(__file__).resolve().parent.parent


def corpus(tmp: Path, folder: Path, truth: Path) -> tuple[list[Path], list[dict]]:
    """The bundled corpus PDFs and scan truth, or (not built yet) a stand-in from tutorforge.corpus.textbook_pages."""
    pdfs = sorted(folder.glob("*.pdf"))
    if pdfs and truth.exists():
        return pdfs, read_json(truth)
    print(
        "!! bundled corpus not found: using the synthetic tutorforge.corpus.textbook_pages book instead",
        file=sys.stderr,
    )
    from tutorforge.corpus.textbook_pages import BODY, textbook_pdf

    p = textbook_pdf(tmp / "synthetic.pdf", scan_pages=(2, 3))
    return [p], [{"file": p.name, "page": n, "text": "\n".join(BODY[n - 1])} for n in (2, 3)]


def build(pdfs: list[Path], truth: list[dict], out: Path, copies: int, ocr_copies: int) -> tuple[Path, Path, int, int]:
    """text/: `copies` files holding every text-layer page; ocr/: `ocr_copies` files holding every scan page."""
    scans = {(t["file"], t["page"]) for t in truth}
    (out / "text").mkdir(parents=True)
    (out / "ocr").mkdir(parents=True)
    n_text = n_ocr = 0
    for kind, n in (("text", copies), ("ocr", ocr_copies)):
        for c in range(n):
            dst = pymupdf.open()
            for p in pdfs:
                src = pymupdf.open(str(p))
                for i in range(src.page_count):
                    if ((p.name, i + 1) in scans) == (kind == "ocr"):
                        dst.insert_pdf(src, from_page=i, to_page=i)
            dst.set_metadata({"title": f"benchmark {kind} copy {c}"})
            if kind == "text":
                n_text += dst.page_count
            else:
                n_ocr += dst.page_count
            save_pdf(dst, out / kind / f"{kind}{c:02d}.pdf", garbage=3)
    return out / "text", out / "ocr", n_text, n_ocr


def bare_text(folder: Path) -> int:
    n = 0
    for p in sorted(folder.glob("*.pdf")):
        with pymupdf.open(str(p)) as doc:
            for page in doc:
                page.get_text()
                n += 1
    return n


@contextmanager
def omp_threads(limit: str | None) -> Iterator[None]:
    """OMP_THREAD_LIMIT for the tesseract runs inside (None: unset, tesseract's default threads)."""
    old = os.environ.get("OMP_THREAD_LIMIT")
    if limit is None:
        os.environ.pop("OMP_THREAD_LIMIT", None)
    else:
        os.environ["OMP_THREAD_LIMIT"] = limit
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = old


def bare_ocr(folder: Path, dpi: int, lang: str, threads: str | None) -> int:
    import pytesseract
    from PIL import Image

    n = 0
    with omp_threads(threads):
        for p in sorted(folder.glob("*.pdf")):
            with pymupdf.open(str(p)) as doc:
                for page in doc:
                    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
                    img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
                    pytesseract.image_to_data(img, lang=lang, config=f"--dpi {dpi}")
                    n += 1
    return n


def real_like_cer(cfg: IngestConfig, sources: Path, tmp: Path) -> dict:
    """Build the real-page truth set, ingest it and OCR it naively; CER of both per page (not timed as a ratio)."""
    folder = tmp / "ocr_truth"
    truth = build_truth_set(sources, folder)
    cfg.input = str(folder)
    t0 = time.perf_counter()
    ours = {(p["file"], p["page"]): p["text"] for p in ingest(cfg)["pages"]}
    t1 = time.perf_counter()
    naive = {(t["file"], t["page"]): naive_ocr_text(folder / t["file"], t["page"], t["body"]) for t in truth}
    t2 = time.perf_counter()
    return {**score(truth, {"ingest": ours, "naive": naive}), "seconds": (t1 - t0, t2 - t1)}


def cpu() -> float:
    """CPU seconds of this process plus its waited-for children (pool workers, tesseract runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


CPU: dict[str, float] = {}


def timed(name: str, fn, *args):  # noqa: ANN001, ANN202
    """Wall seconds (the ratio) and CPU seconds (robust on a busy machine) of fn(*args)."""
    t0, c0 = time.perf_counter(), cpu()
    res = fn(*args)
    CPU[name] = cpu() - c0
    return res, time.perf_counter() - t0


def pipeline(cfg: IngestConfig, out: Path) -> dict:
    res = ingest(cfg)
    write_jsonl(out, res["pages"])  # writing the records is part of the pipeline's cost
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=8, help="copies of the corpus text pages")
    ap.add_argument("--ocr-copies", type=int, default=2, help="copies of the corpus scan pages")
    ap.add_argument("--workers", type=int, default=0, help="pipeline workers (0 = all cores)")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--corpus", type=Path, default=ROOT / "data/textbooks", help="folder of PDFs")
    ap.add_argument("--truth", type=Path, default=ROOT / "data/sources/scan_truth.json", help="OCR ground truth")
    ap.add_argument("--real", type=Path, default=ROOT / "data/ocr_truth", help="real-page truth set sources")
    a = ap.parse_args()
    if a.copies < 1 or a.ocr_copies < 1:
        ap.error("--copies and --ocr-copies must be >= 1 (both the text-layer and the OCR paths are measured)")
    cfg = load_config(IngestConfig, "ingest", a.params, {"ingest.cache_dir": "", "ingest.workers": a.workers})
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        pdfs, truth = corpus(Path(tmp), a.corpus, a.truth)
        text_dir, ocr_dir, n_text, n_ocr = build(pdfs, truth, Path(tmp) / "bench", a.copies, a.ocr_copies)
        _, t_bare = timed("text_bare", bare_text, text_dir)
        cfg.input = str(text_dir)
        res, t_pipe = timed("text_pipe", pipeline, cfg, Path(tmp) / "pages.jsonl")
        assert res["report"]["pages"] == n_text and res["report"]["pages_ocr"] == 0, res["report"]
        _, o_bare = timed("ocr_bare", bare_ocr, ocr_dir, cfg.ocr_dpi, cfg.ocr_language, "1")
        _, o_omp = timed("ocr_omp", bare_ocr, ocr_dir, cfg.ocr_dpi, cfg.ocr_language, None)
        cfg.input = str(ocr_dir)
        ocr_res, o_pipe = timed("ocr_pipe", pipeline, cfg, Path(tmp) / "ocr.jsonl")
        assert ocr_res["report"]["pages_ocr"] == n_ocr, ocr_res["report"]
        # CER on the corpus as it is (headers are learnt per book, from its text pages too); not timed
        cfg.input = str(pdfs[0].parent)
        by_key = {(p["file"], p["page"]): p["text"] for p in ingest(cfg)["pages"]}
        scores = [cer(by_key[(t["file"], t["page"])], t["text"]) for t in truth]
        real = real_like_cer(cfg, a.real, Path(tmp))
    workers = res["report"]["workers"]
    rows = [
        ("text layer", n_text, n_text / t_bare, n_text / t_pipe, "text", "bare page.get_text() loop, 1 process"),
        (
            f"OCR @{cfg.ocr_dpi}dpi",
            n_ocr,
            n_ocr / o_bare,
            n_ocr / o_pipe,
            "ocr",
            "pytesseract image_to_data loop, 1 process, OMP_THREAD_LIMIT=1 (fair: as the stage runs tesseract)",
        ),
        (
            f"OCR @{cfg.ocr_dpi}dpi",
            n_ocr,
            n_ocr / o_omp,
            n_ocr / o_pipe,
            "ocr_omp",
            "the same loop with tesseract's default OpenMP threads (not fair: burns CPU on spinning threads)",
        ),
    ]
    print(
        f"\ningest benchmark: {workers} workers, {os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f}, "
        f"corpus {len(pdfs)} PDFs"
    )
    print(
        f"{'work':<14}{'pages':>7}{'baseline p/s':>14}{'ingest p/s':>12}{'ratio':>8}"
        f"{'CPU ms/page base':>18}{'ingest':>8}  baseline"
    )
    for name, n, b, p, key, what in rows:
        base, pipe = ("ocr_omp", "ocr_pipe") if key == "ocr_omp" else (f"{key}_bare", f"{key}_pipe")
        cb, cp = 1000 * CPU[base] / n, 1000 * CPU[pipe] / n
        print(f"{name:<14}{n:>7}{b:>14.2f}{p:>12.2f}{p / b:>7.2f}x{cb:>18.1f}{cp:>8.1f}  {what}")
    print(
        f"OCR CER vs scan truth: mean {sum(scores) / len(scores):.4f}, max {max(scores):.4f} over {len(scores)} "
        f"pages; mean OCR confidence {ocr_res['report']['ocr_mean_confidence']}"
    )
    print(
        f"\nOCR CER on real-like pages ({a.real.relative_to(ROOT) if a.real.is_relative_to(ROOT) else a.real}: "
        "retyped public-domain maths books, 200-dpi scans; page body only, running heads/page numbers excluded "
        "for both)"
    )
    print(f"{'page':<16}{'cols':>5}{'ingest':>9}{'naive':>9}  naive = PyMuPDF get_textpage_ocr(dpi=300, full=True)")
    for r in real["pages"]:
        print(f"{r['file'] + ':' + str(r['page']):<16}{r['columns']:>5}{r['ingest']:>9.4f}{r['naive']:>9.4f}")
    for label, m in (("mean", real["mean"]), ("mean, 1 column", real["mean_one_column"])):
        ratio = m["ingest"] / m["naive"] if m["naive"] else float("nan")
        print(f"{label:<21}{m['ingest']:>9.4f}{m['naive']:>9.4f}  ingest/naive {ratio:.2f}x (aim <= 0.9x)")
    print(
        f"(untimed as a ratio: ingest {real['seconds'][0]:.1f} s with {workers} workers, naive {real['seconds'][1]:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
