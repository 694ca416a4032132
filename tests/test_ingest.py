"""ingest: bad input is quarantined while good files flow; clean-up; OCR; per-document cache; determinism; CER."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pymupdf
import pytest

from stages import ingest as ingest_stage
from tests.support.pdfs import (
    TWO_COLUMN_TEXT,
    blank_page_pdf,
    cyclic_outline_pdf,
    deep_outline_book,
    encrypted_pdf,
    not_a_pdf,
    text_pdf,
    truncated_pdf,
    two_column_scan,
    zero_byte,
)
from tutorforge.core.io import read_json, read_jsonl
from tutorforge.corpus.textbook_pages import textbook_pdf
from tutorforge.pdf import ingest as ingest_mod
from tutorforge.pdf import pages as pages_mod
from tutorforge.pdf import reader as pdfmod
from tutorforge.text.cer import cer, levenshtein
from tutorforge.text.clean import dehyphenate, is_page_number, normalize_line

ROOT = Path(__file__).resolve().parent.parent


NO_CACHE = ("-S", "ingest.cache_dir=''")


def workers(n: int) -> tuple[str, str]:
    return "-S", f"ingest.workers={n}"


def run(input_dir: Path, out: Path, tmp: Path, *overrides: str, params: dict | None = None) -> int:
    """The ingest stage on input_dir -> out with a params file under tmp (cache in tmp/cache); returns its exit code."""
    p = tmp / f"params-{len(list(tmp.glob('params-*')))}.yaml"
    p.write_text(json.dumps({"ingest": {"cache_dir": str(tmp / "cache"), **(params or {})}}))
    return ingest_stage.main(
        ["-p", str(p), "-S", f"ingest.input={input_dir}", "-S", f"ingest.output={out}", *overrides]
    )


def load(out: Path) -> tuple[list[dict], list[dict], list[dict], dict]:
    return (
        list(read_jsonl(out / "pages.jsonl")),
        list(read_jsonl(out / "documents.jsonl")),
        read_json(out / "quarantine.json"),
        read_json(out / "report.json"),
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every bad-input kind next to good files, ingested once with 2 workers."""
    tmp = tmp_path_factory.mktemp("mixed")
    d = tmp / "in"
    book = deep_outline_book(d / "book.pdf", chapters=2)
    text_pdf(d / "good.PDF", ["Cells are the units of life. " * 5, "Atoms make up all matter. " * 5])
    blank_page_pdf(d / "blank.pdf")
    cyclic_outline_pdf(d / "cyclic.pdf")
    encrypted_pdf(d / "locked.pdf", user_pw="user", owner_pw="owner")
    encrypted_pdf(d / "owner_only.pdf", user_pw=None, owner_pw="owner")
    truncated_pdf(book, d / "truncated.pdf", keep=0.5)
    zero_byte(d / "zero.pdf")
    not_a_pdf(d / "html.pdf")
    (d / "image.pdf").write_bytes(pymupdf.open().new_page().get_pixmap().tobytes("png"))  # a PNG named .pdf
    (d / "notes.txt").write_text("not considered: wrong extension")
    two_column_scan(d / "scan.pdf")
    out = tmp / "out"
    assert run(d, out, tmp, *workers(2)) == 0
    pages, docs, quarantine, report = load(out)
    return {"dir": d, "tmp": tmp, "out": out, "pages": pages, "docs": docs, "quarantine": quarantine, "report": report}


def test_bad_inputs_quarantined_with_reasons(mixed: dict) -> None:
    q = {(e["file"], e.get("page")): e for e in mixed["quarantine"]}
    expect = {
        ("zero.pdf", None): ("rejected", "empty file"),
        ("html.pdf", None): ("rejected", "not a PDF"),
        ("image.pdf", None): ("rejected", "PNG"),
        ("truncated.pdf", None): ("rejected", "truncated"),
        ("locked.pdf", None): ("rejected", "encrypted: user password required"),
        ("blank.pdf", 1): ("page skipped", "no text layer and no images"),
        ("blank.pdf", None): ("rejected", "no usable pages: all 1 page(s) skipped"),  # counted, not lost
        ("cyclic.pdf", None): ("outline ignored", "outline ignored: cycle"),
    }
    assert set(q) == set(expect), mixed["quarantine"]
    for key, (action, reason) in expect.items():
        assert q[key]["action"] == action and reason in q[key]["reason"], q[key]
        assert "\n" not in q[key]["reason"]
    files = {p["file"] for p in mixed["pages"]}
    assert files == {"book.pdf", "good.PDF", "cyclic.pdf", "owner_only.pdf", "scan.pdf"}  # good files flow
    assert "notes.txt" not in {e["file"] for e in mixed["quarantine"]}
    r = mixed["report"]
    assert (r["files"], r["files_ok"], r["quarantined_files"], r["quarantined_pages"], r["outlines_ignored"]) == (
        11,
        5,
        6,
        1,
        1,
    )
    assert r["files"] == r["files_ok"] + r["quarantined_files"]
    assert r["pages"] == len(mixed["pages"]) and r["pages_ocr"] == 1 and r["docs_cached"] == 0


def test_owner_only_and_cyclic_outline_are_read(mixed: dict) -> None:
    owner = [p for p in mixed["pages"] if p["file"] == "owner_only.pdf"]
    assert [p["page"] for p in owner] == [1, 2]
    assert all("mitochondrion releases energy" in p["text"] for p in owner)
    docs = {d["file"]: d for d in mixed["docs"]}
    assert docs["cyclic.pdf"]["outline_status"].startswith("invalid: cycle") and docs["cyclic.pdf"]["outline"] == []
    assert len([p for p in mixed["pages"] if p["file"] == "cyclic.pdf"]) == 3
    book = docs["book.pdf"]
    assert book["outline_status"] == "ok" and book["n_pages"] == 30
    assert [(o["level"], o["page"]) for o in book["outline"][:4]] == [(1, 1), (2, 2), (3, 3), (3, 4)]
    assert book["doc_id"] == book["sha256"][:16] and len(book["sha256"]) == 64
    assert "blank.pdf" not in docs  # no page left


def test_page_records_follow_contract(mixed: dict) -> None:
    keys = {"doc_id", "file", "page", "page_label", "text", "method", "ocr_confidence", "chars", "lines"}
    order = [(p["file"], p["page"]) for p in mixed["pages"]]
    assert order == sorted(order)
    for p in mixed["pages"]:
        assert set(p) == keys
        assert p["chars"] == len(p["text"])
        assert (p["method"] == "text") == (p["ocr_confidence"] is None)
        assert len(p["lines"]) == len(p["text"].split("\n")) if p["text"] else not p["lines"]
        for ln in p["lines"]:
            seg = p["text"][ln["start"] : ln["end"]]
            assert seg and "\n" not in seg and ln["size"] > 0 and isinstance(ln["bold"], bool)
    book = [p for p in mixed["pages"] if p["file"] == "book.pdf"]
    first = book[0]["lines"][0]
    assert book[0]["text"].startswith("Chapter 1") and first["bold"] and first["size"] == 20.0
    assert all(not p["text"].rstrip().endswith(str(p["page"])) for p in book)  # page numbers gone
    assert all("the outline depth can be" in p["text"] for p in book)  # repeated body text is not a "header"


def test_two_column_scan_is_ocred_in_reading_order(mixed: dict) -> None:
    (scan,) = [p for p in mixed["pages"] if p["file"] == "scan.pdf"]
    assert scan["method"] == "ocr" and 50 <= scan["ocr_confidence"] <= 100
    text = " ".join(scan["text"].split())
    left, right = (" ".join(t.split()) for t in TWO_COLUMN_TEXT)
    i, j = text.find("Plants make their own food"), text.find("A force is a push or a pull")
    assert 0 <= i < j, text  # the left column is read before the right one, not interleaved line by line
    assert cer(text[i:j], left) <= 0.03 and cer(text[j:], right) <= 0.03


def test_fail_on_bad_input_exits_nonzero_and_writes_nothing(mixed: dict, capsys: pytest.CaptureFixture) -> None:
    out = mixed["tmp"] / "strict"
    assert run(mixed["dir"], out, mixed["tmp"], params={"fail_on_bad_input": True}) == 1
    err = capsys.readouterr().err
    assert "locked.pdf: encrypted: user password required" in err and "zero.pdf: empty file" in err
    assert not out.exists()


def test_missing_input_folder_is_a_stage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(tmp_path / "nowhere", tmp_path / "out", tmp_path) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere does not exist" in err[0], err
    assert not (tmp_path / "out").exists()


def test_cleanup_headers_ligatures_hyphens_and_ocr_page(tmp_path: Path) -> None:
    textbook_pdf(tmp_path / "in" / "plants.pdf", scan_pages=(3,))
    assert run(tmp_path / "in", tmp_path / "out", tmp_path, *NO_CACHE) == 0
    pages, docs, quarantine, _ = load(tmp_path / "out")
    assert quarantine == [] and [p["method"] for p in pages] == ["text", "text", "ocr", "text", "text"]
    text = "\n".join(p["text"] for p in pages)
    for gone in ("Exploring", "Page 12", "\n13\n", "\n14", "15", "16", "\ufb01", "\ufb02", "photo-", "·"):
        assert gone not in text, gone
    assert "photosynthesis and it takes place" not in text  # the fragment moved up, rest stays on its line
    assert "called photosynthesis\nand it takes place" in pages[0]["text"]
    assert "rate of photosynthesis\nuntil another" in pages[3]["text"]
    assert "The first step needs light; the flow of energy is a well-known idea." in text
    assert pages[0]["lines"][0] == {"start": 0, "end": 26, "size": 20.0, "bold": True}  # heading kept, not a header
    assert "Glucose made in the leaf" in pages[2]["text"] and "iodine solution" in pages[2]["text"]
    assert [p["page_label"] for p in pages] == ["1", "2", "3", "4", "5"]
    assert docs[0]["outline_status"] == "none" and docs[0]["page_labels"] is False


def test_text_helpers() -> None:
    for s in ("12", "Page 12", "- 7 -", "3 / 40", "xiv", "IV", "p. 9"):
        assert is_page_number(s), s
    for s in ("12 apples", "Chapter 3", "Mixing", "2.1 Cells", ""):
        assert not is_page_number(s), s
    assert normalize_line("e\ufb03cient  \u00a0 ﬂow\u200b") == "efficient flow"
    from collections import Counter

    ln = [("a well-", 11.0, False, 0.5, 0.5), ("known fact", 11.0, False, 0.5, 0.5)]
    assert dehyphenate(ln, Counter({"well-known": 2}))[0][0] == "a well-known"
    assert dehyphenate(ln, Counter())[0][0] == "a wellknown"
    assert dehyphenate([("x photo-", 1, 0, 0, 0), ("synthesis", 1, 0, 0, 0)], Counter())[0][0] == "x photosynthesis"
    assert dehyphenate([("A-", 1, 0, 0, 0), ("Level", 1, 0, 0, 0)], Counter())[0][0] == "A-"  # capital: not a split
    assert levenshtein("kitten", "sitting") == 3 and cer("a  b", "a b") == 0.0


def test_per_document_cache_and_determinism(tmp_path: Path) -> None:
    d = tmp_path / "in"
    for i in range(3):
        text_pdf(
            d / f"doc{i}.pdf", [f"Document {i} page {j}: enzymes speed up reactions in cells." * 3 for j in range(3)]
        )
    assert run(d, tmp_path / "a", tmp_path) == 0
    assert load(tmp_path / "a")[3]["docs_processed"] == 3
    text_pdf(d / "doc1.pdf", ["Changed content: diffusion moves particles from high to low concentration." * 3])
    assert run(d, tmp_path / "b", tmp_path) == 0
    report = load(tmp_path / "b")[3]
    assert (report["docs_processed"], report["docs_cached"]) == (1, 2)
    assert run(d, tmp_path / "c", tmp_path, *NO_CACHE, *workers(1)) == 0  # from scratch, one worker
    for name in ("pages.jsonl", "documents.jsonl", "quarantine.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name
    assert "Changed content" in (tmp_path / "b" / "pages.jsonl").read_text()
    shutil.copy(d / "doc0.pdf", d / "renamed.pdf")  # same content twice: the second copy is a duplicate
    assert run(d, tmp_path / "e", tmp_path) == 0
    q = load(tmp_path / "e")[2]
    assert q == [{"action": "rejected", "file": "renamed.pdf", "reason": "duplicate: same content as doc0.pdf"}]


def test_two_runs_byte_identical(mixed: dict, tmp_path: Path) -> None:
    assert run(mixed["dir"], tmp_path / "again", tmp_path, *NO_CACHE, *workers(2)) == 0
    for name in ("pages.jsonl", "documents.jsonl", "quarantine.json"):
        assert (tmp_path / "again" / name).read_bytes() == (mixed["out"] / name).read_bytes(), name


def test_worker_crash_quarantines_only_that_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "in"
    for name in ("a", "boom", "c", "die"):
        text_pdf(d / f"{name}.pdf", [f"{name} {i}: the heart pumps blood around the body. " * 3 for i in range(3)])
    text_pdf(d / "gone.pdf", ["gone: the heart pumps blood around the body. " * 3])
    real = pdfmod.text_lines

    def flaky(page):  # forked workers inherit the patch
        path = page.parent.name
        if path.endswith("boom.pdf") and page.number == 0:
            raise RuntimeError("simulated parser bug")
        if path.endswith(("die.pdf", "gone.pdf")) and page.number in (0, 2):
            os._exit(3)  # a hard crash (like a segfault) kills the worker process
        return real(page)

    monkeypatch.setattr(pdfmod, "text_lines", flaky)
    assert run(d, tmp_path / "out", tmp_path, *NO_CACHE, *workers(2)) == 0
    pages, docs, quarantine, report = load(tmp_path / "out")
    assert [(p["file"], p["page"]) for p in pages] == [
        *[("a.pdf", n) for n in (1, 2, 3)],
        *[("boom.pdf", n) for n in (2, 3)],
        *[("c.pdf", n) for n in (1, 2, 3)],
        ("die.pdf", 2),
    ]
    q = {(e["file"], e.get("page")): e["reason"] for e in quarantine}
    assert set(q) == {("boom.pdf", 1), ("die.pdf", 1), ("die.pdf", 3), ("gone.pdf", 1), ("gone.pdf", None)}
    assert q[("boom.pdf", 1)] == "crashed while reading the text layer: RuntimeError: simulated parser bug"
    assert q[("die.pdf", 3)] == "worker process died (exit status 3) while reading the text layer"
    assert q[("gone.pdf", None)] == "no usable pages: all 1 page(s) skipped"
    assert (report["files"], report["files_ok"], report["quarantined_files"]) == (5, 4, 1)
    assert [d["file"] for d in docs] == ["a.pdf", "boom.pdf", "c.pdf", "die.pdf"]


def test_no_document_open_when_a_pool_forks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forked workers must not inherit an open document: they would share its file offset and garble pages."""
    textbook_pdf(tmp_path / "in" / "plants.pdf", scan_pages=(2, 3))  # one text chunk
    calls, real = [], pages_mod.run_tasks

    def spy(fn, tasks, n, desc, timeout):  # noqa: ANN001, ANN202
        calls.append((desc, len(pages_mod._DOCS)))
        return real(fn, tasks, n, desc, timeout)

    monkeypatch.setattr(pages_mod, "run_tasks", spy)
    assert run(tmp_path / "in", tmp_path / "out", tmp_path, *NO_CACHE, *workers(2)) == 0
    assert calls == [("ingest: open", 0), ("ingest: text layer", 0), ("ingest: OCR", 0)]
    assert [p["method"] for p in load(tmp_path / "out")[0]] == ["text", "ocr", "ocr", "text", "text"]


@pytest.mark.slow
def test_corpus_ocr_cer(tmp_path: Path) -> None:
    truth_path, corpus = ROOT / "data/sources/scan_truth.json", ROOT / "data/textbooks"
    if not truth_path.exists() or not any(corpus.glob("*.pdf")):
        pytest.skip("bundled corpus not built yet (scripts/build_corpus.py -> data/textbooks, scan_truth.json)")
    assert run(corpus, tmp_path / "out", tmp_path, *NO_CACHE) == 0
    pages, docs, quarantine, _ = load(tmp_path / "out")
    assert [q for q in quarantine if q["action"] == "rejected"] == []
    by_key = {(p["file"], p["page"]): p for p in pages}
    truth = read_json(truth_path)
    assert truth
    for t in truth:
        p = by_key[(t["file"], t["page"])]
        assert p["method"] == "ocr"
        score = cer(p["text"], t["text"])
        assert score <= 0.03, (t["file"], t["page"], score, p["text"][:300])
    for d in docs:  # the book title is a running header: only the title page keeps it
        assert d["title"] and [p["page"] for p in pages if p["file"] == d["file"] and d["title"] in p["text"]] == [1]
        body = [p for p in pages if p["file"] == d["file"] and p["page_label"] not in ("i", "ii", "1")]
        assert not [p["page"] for p in body if p["text"].split("\n")[-1].startswith("Chapter ")], d["file"]


@pytest.mark.parametrize("keep", [0.01, 0.1, 0.3, 0.5, 0.95, 0.999])
def test_truncated_pdf_rejected_at_any_cut(tmp_path: Path, keep: float) -> None:
    book = deep_outline_book(tmp_path / "book.pdf", chapters=2)
    with pytest.raises(pdfmod.BadInput, match="truncated"):
        pdfmod.open_pdf(truncated_pdf(book, tmp_path / "cut.pdf", keep=keep))
    assert pdfmod.open_pdf(book).page_count == 30  # the intact file opens


def test_garbage_text_layer_goes_to_ocr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(text_pdf(tmp_path / "g.pdf", ["Diffusion is the net movement of particles. " * 4]))
    cfg = ingest_mod.IngestConfig()
    assert pages_mod.text_pages(path, [0], cfg)[0]["method"] == "text"
    for junk in ("\ufffd" * 40 + " abc", "\x01\x02\x03" * 20, "\ue000\ue001" * 30):
        monkeypatch.setattr(pdfmod, "text_lines", lambda page, j=junk: [(j, 11.0, False, 0.5, 0.52)])
        rec = pages_mod.text_pages(path, [0], cfg)[0]
        assert rec["method"] == "ocr" and rec["reason"] == "garbage text layer", junk
    pages_mod.close_docs()
    n, good, bad = pdfmod.text_quality("Force = mass × acceleration, F = m·a → 3 N ≈ 0.3 kg × 10 m/s²")
    assert good == 1.0 and bad == 0.0 and n > 20
