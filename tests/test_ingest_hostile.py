"""ingest on hostile input (issue 12): a stuck or crashing page, a page too large to render, a missing OCR engine,
non-files and symlinks named *.pdf, corrupt cache entries. Each costs its page or its file, with a reason; the stage
finishes (or, for a missing OCR engine, fails once with one line)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from tests.support.pdfs import blank_page_pdf, huge_page_pdf, text_pdf
from tests.test_ingest import load, run
from tutorforge.core.io import read_json
from tutorforge.corpus.textbook_pages import textbook_pdf
from tutorforge.pdf import reader
from tutorforge.pdf.pool import run_tasks

ROOT = Path(__file__).resolve().parent.parent
TESSERACT = shutil.which("tesseract")
BODY = "The heart pumps blood through arteries, veins and capillaries around the body. " * 3


def engine(tmp: Path, name: str, body: str) -> Path:
    """An executable `tesseract_cmd`: `--version`/`--list-langs` probes go straight to the real tesseract; a page run
    first runs `body` (sh), then the real tesseract."""
    p = tmp / name
    p.write_text(f'#!/bin/sh\ncase "$1" in --*) exec {TESSERACT} "$@";; esac\n{body}\nexec {TESSERACT} "$@"\n')
    p.chmod(0o755)
    return p


def stage_process(
    tmp: Path, src: Path, out: Path, params: dict, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The ingest stage as its own process (a crash that kills it cannot take pytest along), uncached, one worker;
    `code`: Python run instead of `-m stages.ingest` (argv as for the stage)."""
    p = tmp / "params.yaml"
    p.write_text(json.dumps({"ingest": {"cache_dir": "", "workers": 1, "ocr_dpi": 150, **params}}))
    head = ["-c", code] if code else ["-m", "stages.ingest"]
    (tmp / "scratch").mkdir(exist_ok=True)  # the stage's TMPDIR: what a crash leaves behind shows up here
    return subprocess.run(
        [sys.executable, *head, "-p", str(p), "-S", f"ingest.input={src}", "-S", f"ingest.output={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp / "scratch")},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),  # no core files from the crash tests
    )


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if " INFO " not in ln]
    assert len(lines) == 1, err
    return lines[0]


# ---- item 4: time and memory budgets, crash isolation ----------------------------------------------------------------
@pytest.mark.timeout(240)
def test_stuck_tesseract_is_killed_and_its_page_quarantined(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    textbook_pdf(src / "plants.pdf", scan_pages=(2, 4))
    stuck = engine(
        tmp_path,
        "stuck-tesseract",
        f'if mkdir "{tmp_path}/first" 2>/dev/null; then sleep 300 & echo $! > "{tmp_path}/sleep.pid"; wait $!; fi',
    )
    t0 = time.monotonic()
    res = stage_process(tmp_path, src, out, {"tesseract_cmd": str(stuck), "page_timeout_s": 3})
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - t0 < 120
    pages, _, quarantine, report = load(out)
    assert [(p["page"], p["method"]) for p in pages] == [(1, "text"), (3, "text"), (4, "ocr"), (5, "text")]
    (q,) = quarantine
    assert (q["file"], q["page"], q["action"]) == ("plants.pdf", 2, "page skipped"), q
    assert "timed out" in q["reason"] and "ingest.page_timeout_s" in q["reason"], q
    assert not running(int((tmp_path / "sleep.pid").read_text()))  # killed, not just abandoned
    assert (report["files_ok"], report["quarantined_pages"]) == (1, 1)


def test_page_too_large_to_render_is_quarantined_unrendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in"
    huge_page_pdf(src / "poster.pdf", side=6000)
    real = pymupdf.Page.get_pixmap

    def get_pixmap(page: pymupdf.Page, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - forked workers inherit it
        if page.rect.width > 5000:
            raise AssertionError("the 6000 pt page was rendered")
        return real(page, *args, **kwargs)

    monkeypatch.setattr(pymupdf.Page, "get_pixmap", get_pixmap)
    assert run(src, tmp_path / "out", tmp_path, "-S", "ingest.workers=1") == 0
    pages, docs, quarantine, _ = load(tmp_path / "out")
    assert [p["page"] for p in pages] == [1] and [d["file"] for d in docs] == ["poster.pdf"]
    (q,) = quarantine
    assert (q["page"], q["action"]) == (2, "page skipped"), q
    assert "too large" in q["reason"] and "ingest.ocr_max_megapixels" in q["reason"] and "625" in q["reason"], q


@pytest.mark.timeout(120)
def test_page_stuck_in_mupdf_is_quarantined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in"
    text_pdf(src / "slow.pdf", [f"Page {i}. {BODY}" for i in range(1, 4)])
    text_pdf(src / "fine.pdf", [BODY])
    real = reader.text_lines

    def stuck(page: pymupdf.Page) -> list:  # forked workers inherit the patch
        if page.parent.name.endswith("slow.pdf") and page.number == 1:
            time.sleep(600)  # MuPDF looping on a hostile content stream
        return real(page)

    monkeypatch.setattr(reader, "text_lines", stuck)
    t0 = time.monotonic()
    assert run(src, tmp_path / "out", tmp_path, params={"page_timeout_s": 2, "workers": 2}) == 0
    assert time.monotonic() - t0 < 60
    pages, _, quarantine, _ = load(tmp_path / "out")
    assert [(p["file"], p["page"]) for p in pages] == [("fine.pdf", 1), ("slow.pdf", 1), ("slow.pdf", 3)]
    assert quarantine == [
        {
            "file": "slow.pdf",
            "page": 2,
            "action": "page skipped",
            "reason": "timed out while reading the text layer: over ingest.page_timeout_s (2 s); its worker was killed",
        }
    ]


CRASH_IN_TEXT_LAYER = """
import os, signal, sys
from tutorforge.pdf import reader
real = reader.text_lines
def text_lines(page):
    if page.parent.name.endswith("die.pdf") and page.number == 1:
        os.kill(os.getpid(), signal.SIGSEGV)  # what a MuPDF crash does to the process reading the page
    return real(page)
reader.text_lines = text_lines
from stages.ingest import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_mupdf_crash_with_one_worker_costs_only_its_page(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    text_pdf(src / "die.pdf", [f"Page {i}. {BODY}" for i in range(1, 4)])
    text_pdf(src / "fine.pdf", [BODY])
    res = stage_process(tmp_path, src, out, {"chunk_pages": 16}, code=CRASH_IN_TEXT_LAYER)
    assert res.returncode == 0, res.stderr
    pages, _, quarantine, report = load(out)
    assert [(p["file"], p["page"]) for p in pages] == [("die.pdf", 1), ("die.pdf", 3), ("fine.pdf", 1)]
    (q,) = quarantine
    assert (q["file"], q["page"], q["action"]) == ("die.pdf", 2, "page skipped"), q
    assert "worker process died" in q["reason"] and "SIGSEGV" in q["reason"], q
    assert (report["files"], report["files_ok"], report["quarantined_pages"]) == (2, 2, 1)


@pytest.mark.parametrize("sig", ["SEGV", "KILL"])
def test_crashing_ocr_page_with_one_worker_costs_only_its_page(tmp_path: Path, sig: str) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    textbook_pdf(src / "plants.pdf", scan_pages=(2, 4))
    text_pdf(src / "zoo.pdf", [BODY])
    killer = engine(tmp_path, "killer", f'if mkdir "{tmp_path}/first" 2>/dev/null; then kill -{sig} $PPID; sleep 5; fi')
    res = stage_process(tmp_path, src, out, {"tesseract_cmd": str(killer)})
    assert res.returncode == 0, res.stderr
    pages, _, quarantine, _ = load(out)
    assert [(p["file"], p["page"], p["method"]) for p in pages] == [
        ("plants.pdf", 1, "text"),
        ("plants.pdf", 3, "text"),
        ("plants.pdf", 4, "ocr"),
        ("plants.pdf", 5, "text"),
        ("zoo.pdf", 1, "text"),
    ]
    (q,) = quarantine
    assert (q["file"], q["page"]) == ("plants.pdf", 2) and f"SIG{sig}" in q["reason"], q
    assert not list((tmp_path / "scratch").glob("tf-ocr-*")), "the killed worker's page image was left behind"


# ---- item 5: the OCR engine missing ---------------------------------------------------------------------------------
@pytest.fixture
def scan_and_text(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    textbook_pdf(src / "plants.pdf", scan_pages=(2,))
    text_pdf(src / "zoo.pdf", [BODY])
    return src


def test_missing_tesseract_fails_once_when_pages_need_ocr(
    tmp_path: Path, scan_and_text: Path, capsys: pytest.CaptureFixture
) -> None:
    textbook_pdf(scan_and_text / "more.pdf", scan_pages=(1, 3))
    missing = str(tmp_path / "no-such-tesseract")
    capsys.readouterr()
    assert run(scan_and_text, tmp_path / "out", tmp_path, params={"tesseract_cmd": missing}) == 1
    line = one_line(capsys.readouterr().err)
    assert "ingest.tesseract_cmd" in line and missing in line and "ingest.ocr: false" in line, line
    assert "3 page(s) in 2 file(s) need OCR" in line, line
    assert not (tmp_path / "out").exists()


def test_missing_tesseract_does_not_matter_without_scans(tmp_path: Path) -> None:
    text_pdf(tmp_path / "in" / "zoo.pdf", [BODY])
    assert run(tmp_path / "in", tmp_path / "out", tmp_path, params={"tesseract_cmd": str(tmp_path / "none")}) == 0
    assert [p["file"] for p in load(tmp_path / "out")[0]] == ["zoo.pdf"]


def test_ocr_disabled_quarantines_scan_pages(tmp_path: Path, scan_and_text: Path) -> None:
    params = {"ocr": False, "tesseract_cmd": str(tmp_path / "no-such-tesseract")}
    assert run(scan_and_text, tmp_path / "out", tmp_path, params=params) == 0
    pages, _, quarantine, report = load(tmp_path / "out")
    assert [(p["file"], p["page"]) for p in pages] == [("plants.pdf", n) for n in (1, 3, 4, 5)] + [("zoo.pdf", 1)]
    assert [(q["file"], q["page"], q["action"]) for q in quarantine] == [("plants.pdf", 2, "page skipped")]
    assert "OCR disabled" in quarantine[0]["reason"] and "ingest.ocr" in quarantine[0]["reason"]
    assert (report["files_ok"], report["quarantined_pages"], report["pages_ocr"]) == (2, 1, 0)


@pytest.mark.timeout(120)
def test_hanging_tesseract_probe_is_bounded(tmp_path: Path, scan_and_text: Path, capsys: pytest.CaptureFixture) -> None:
    hang = tmp_path / "hanging-tesseract"
    hang.write_text("#!/bin/sh\nsleep 300\n")
    hang.chmod(0o755)
    t0 = time.monotonic()
    capsys.readouterr()
    params = {"tesseract_cmd": str(hang), "page_timeout_s": 2}
    assert run(scan_and_text, tmp_path / "out", tmp_path, params=params) == 1
    assert "did not answer" in one_line(capsys.readouterr().err)
    assert time.monotonic() - t0 < 60


def test_missing_ocr_language_fails_once(tmp_path: Path, scan_and_text: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert run(scan_and_text, tmp_path / "out", tmp_path, params={"ocr_language": "eng+xqz"}) == 1
    line = one_line(capsys.readouterr().err)
    assert "xqz" in line and "ingest.ocr_language" in line, line


# ---- item 6: what a *.pdf name may point at ------------------------------------------------------------------------
@pytest.mark.timeout(120)  # opening the FIFO would block forever
def test_non_files_and_symlinks_named_pdf_are_quarantined(tmp_path: Path) -> None:
    src = tmp_path / "in"
    text_pdf(src / "good.pdf", [BODY])
    blank_page_pdf(src / "blank.pdf")
    (src / "folder.pdf").mkdir()
    os.mkfifo(src / "pipe.pdf")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock.pdf"))
    (src / "dangling.pdf").symlink_to(src / "gone.pdf")
    (src / "loop.pdf").symlink_to(src / "loop.pdf")
    elsewhere = text_pdf(tmp_path / "elsewhere" / "real.pdf", ["Outside the input folder. " + BODY])
    (src / "outside.pdf").symlink_to(Path("..") / "elsewhere" / "real.pdf")
    (src / "inside.pdf").symlink_to(text_pdf(src / "sub" / "inner.pdf", ["Inside the folder. " + BODY]))
    try:
        assert run(src, tmp_path / "out", tmp_path) == 0
        pages, docs, quarantine, report = load(tmp_path / "out")
        assert run(src, tmp_path / "out2", tmp_path, params={"follow_symlinks": True}) == 0
        followed = load(tmp_path / "out2")
    finally:
        sock.close()
    assert sorted({p["file"] for p in pages}) == ["good.pdf", "inside.pdf"]
    q = {(e["file"], e.get("page")): (e["action"], e["reason"]) for e in quarantine}
    expect = {
        ("blank.pdf", 1): "no text layer and no images",
        ("blank.pdf", None): "no usable pages",
        ("folder.pdf", None): "directory",
        ("pipe.pdf", None): "named pipe (FIFO)",
        ("sock.pdf", None): "socket",
        ("dangling.pdf", None): "dangling symlink",
        ("loop.pdf", None): "symlink loop",
        ("outside.pdf", None): "outside the input folder",
    }
    assert set(q) == set(expect), quarantine
    for key, reason in expect.items():
        assert reason in q[key][1], (key, q[key])
        assert q[key][0] == ("page skipped" if key[1] else "rejected"), (key, q[key])
    assert "ingest.follow_symlinks" in q[("outside.pdf", None)][1] and str(elsewhere) in q[("outside.pdf", None)][1]
    assert (report["files"], report["files_ok"], report["quarantined_files"]) == (9, 2, 7)
    assert report["files"] == report["files_ok"] + report["quarantined_files"]
    assert [d["file"] for d in docs] == ["good.pdf", "inside.pdf"]
    assert sorted({p["file"] for p in followed[0]}) == ["good.pdf", "inside.pdf", "outside.pdf"]
    assert (followed[3]["files"], followed[3]["files_ok"], followed[3]["quarantined_files"]) == (9, 3, 6)


# ---- item 7: the per-document cache --------------------------------------------------------------------------------
DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "binary": lambda p: p.write_bytes(b"\xff\xfe\x00garbage\x80"),
    "empty": lambda p: p.write_bytes(b""),
    "a list": lambda p: p.write_text("[1, 2, 3]"),
    "keys missing": lambda p: p.write_text('{"document": {}}'),
    "bad page": lambda p: p.write_text(json.dumps({**read_json(p), "pages": [{"page": "one"}]})),
    "another document": lambda p: p.write_text(
        json.dumps({**read_json(p), "document": {**read_json(p)["document"], "sha256": "0" * 64}})
    ),
    "a directory": lambda p: (p.unlink(), p.mkdir(), (p / "x").write_text("{}")),
    "a pipe": lambda p: (p.unlink(), os.mkfifo(p)),  # reading it would block
}


@pytest.mark.timeout(120)
def test_corrupt_cache_entries_are_dropped_and_rebuilt(tmp_path: Path) -> None:
    src = tmp_path / "in"
    files = {kind: text_pdf(src / f"doc{i}.pdf", [f"Document {i}. {BODY}"]) for i, kind in enumerate(DAMAGE)}
    text_pdf(src / "intact.pdf", [BODY])
    assert run(src, tmp_path / "a", tmp_path) == 0
    cache = tmp_path / "cache"
    for kind, pdf in files.items():
        (entry,) = cache.glob(hashlib.sha256(pdf.read_bytes()).hexdigest()[:32] + "-*.json")
        DAMAGE[kind](entry)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("tutorforge").addHandler(handler)
    try:
        assert run(src, tmp_path / "b", tmp_path) == 0
    finally:
        logging.getLogger("tutorforge").removeHandler(handler)
    report = load(tmp_path / "b")[3]
    assert (report["docs_processed"], report["docs_cached"]) == (len(DAMAGE), 1)
    for name in ("pages.jsonl", "documents.jsonl", "quarantine.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    warned = [r.getMessage() for r in records if "cache entry" in r.getMessage()]
    assert len(warned) == len(DAMAGE), warned
    for path in cache.iterdir():
        assert path.is_file() and read_json(path)["document"]["sha256"]  # every entry rebuilt, valid
    assert run(src, tmp_path / "c", tmp_path) == 0
    assert load(tmp_path / "c")[3]["docs_cached"] == len(DAMAGE) + 1


# ---- the pool itself -----------------------------------------------------------------------------------------------
@pytest.fixture
def core_dumps_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Core dumps allowed, as on CI, in an empty working directory: dumping a forked copy of a pytest process with
    torch loaded took over 2 s there, and the crash was reported as a timeout."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    monkeypatch.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def _task(kind: str, i: int) -> object:
    if kind == "raise":
        raise ValueError(f"bad task {i}")
    if kind == "die":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "hang":
        time.sleep(60)
    return (os.getpid(), i * i)


@pytest.mark.parametrize("workers", [1, 3])
def test_pool_costs_only_the_failing_task(workers: int, core_dumps_on: Path) -> None:
    kinds = ["ok", "raise", "ok", "die", "ok", "hang", "ok", "ok", "die", "ok"]
    t0 = time.monotonic()
    res = run_tasks(_task, [(k, i) for i, k in enumerate(kinds)], workers, "test", timeout=2.0)
    assert time.monotonic() - t0 < 30
    for i, (k, r) in enumerate(zip(kinds, res, strict=True)):
        if k == "ok":
            assert r[1] == i * i and r[0] != os.getpid(), r  # never in this process
        else:
            assert r["failure"] == {"raise": "exception", "die": "crash", "hang": "timeout"}[k], r
    assert res[1]["error"] == "ValueError: bad task 1" and res[3]["error"] == "worker process died (SIGSEGV)"
    assert res[5]["error"] == "timed out after 2 s (worker killed)"
    assert run_tasks(_task, [], workers, "test") == []
    assert list(core_dumps_on.iterdir()) == []  # a crashed worker leaves no core file
