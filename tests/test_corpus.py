"""The bundled sample corpus (data/textbooks) is reproducible from data/sources and has the promised features."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOKS = ROOT / "data" / "textbooks"
SOURCES = ROOT / "data" / "sources"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((SOURCES / "corpus_manifest.json").read_text())


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_corpus.py"),
            "--sources",
            str(SOURCES),
            "--output",
            str(out),
            "--truth-dir",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_rebuild_is_byte_identical(rebuilt):
    committed = sorted(BOOKS.glob("*.pdf"))
    assert [p.name for p in committed] == sorted(p.name for p in rebuilt.glob("*.pdf"))
    for p in committed:
        assert sha(p) == sha(rebuilt / p.name), f"{p.name} differs from a fresh build"
    for name in ("scan_truth.json", "corpus_manifest.json"):
        assert json.loads((SOURCES / name).read_text()) == json.loads((rebuilt / name).read_text())


def test_size_pages_subjects(manifest):
    books = manifest["books"]
    assert {b["subject"] for b in books} == {"biology", "chemistry", "physics", "mathematics"}
    total = 0
    for b in books:
        doc = pymupdf.open(BOOKS / b["file"])
        assert doc.page_count == b["pages"]
        total += doc.page_count
    assert total >= 40
    assert sum(p.stat().st_size for p in BOOKS.glob("*.pdf")) < 6 * 1024 * 1024


def test_scans_are_image_only(manifest):
    n, books_with_scans = 0, 0
    for b in manifest["books"]:
        doc = pymupdf.open(BOOKS / b["file"])
        books_with_scans += bool(b["scan_pages"])
        for i, page in enumerate(doc, 1):
            if i in b["scan_pages"]:
                assert page.get_text().strip() == "", (b["file"], i)
                assert len(page.get_images()) == 1, (b["file"], i)
                n += 1
            else:
                assert page.get_text().strip(), f"{b['file']} page {i} should have a text layer"
    assert n >= 8 and books_with_scans >= 3


def test_scan_truth_matches_manifest(manifest):
    truth = json.loads((SOURCES / "scan_truth.json").read_text())
    want = {(b["file"], p) for b in manifest["books"] for p in b["scan_pages"]}
    assert {(t["file"], t["page"]) for t in truth} == want
    assert all(len(t["text"]) > 500 for t in truth)


def test_outline_toc_and_labels(manifest):
    with_outline = [b for b in manifest["books"] if b["has_outline"]]
    assert len(with_outline) == 2
    for b in manifest["books"]:
        doc = pymupdf.open(BOOKS / b["file"])
        toc = doc.get_toc()
        if b["has_outline"]:
            assert toc and toc[0][0] == 1
            assert [[h["level"], h["title"], h["page"]] for h in b["headings"]] == toc
        else:
            assert toc == []
        if b["toc_page"]:
            text = doc[b["toc_page"] - 1].get_text()
            assert "Contents" in text and ". . ." in text
        if b["page_labels"]:
            assert doc.get_page_labels()
            assert [p.get_label() for p in doc] == b["page_labels"]
            assert doc[0].get_label() == "i"
    assert sum(1 for b in manifest["books"] if b["toc_page"]) == 1
    assert any(b["page_labels"] for b in manifest["books"])


def test_text_features():
    text = {p.stem: "".join(pg.get_text() for pg in pymupdf.open(p)) for p in BOOKS.glob("*.pdf")}
    for t in json.loads((SOURCES / "scan_truth.json").read_text()):  # scanned pages: what was drawn before raster
        text[Path(t["file"]).stem] += "\n" + t["text"]
    everything = "\n".join(text.values())
    assert "Chapter 2" in everything and "Figure 2.1:" in everything and "Table " in everything
    assert "F = m × a" in text["physics"] and "v = d / t" in text["physics"]
    assert "pH = −log[H+]" in text["chemistry"]
    assert "√(b² − 4ac)" in text["mathematics"]
    assert "\ufb01" in everything  # ligature that NFKC must undo
    assert "-\n" in everything  # words hyphenated across line ends
    for word in ("because", "therefore", "is defined as"):
        assert word in everything
