"""Segment end to end on real PDFs: factory PDFs (deep outline, two-column skewed scan, numbering only) through
tutorforge.pdf.ingest, and the bundled sample corpus (data/textbooks) against its manifest."""

from __future__ import annotations

import pytest

from tests.support.pages import assert_exact
from tutorforge.core.io import read_jsonl
from tutorforge.segment.sections import SegmentConfig, segment_records

# ---- end to end: real PDFs through tutorforge.pdf.ingest, then segment ---------------------------------------

MORE = " Work through the examples slowly, check each step, and compare your answer with a partner before moving on."
NUMBERED_BOOK = [
    "Mathematics Made Plain\nA book without bookmarks",
    "Contents\nChapter 1 Numbers . . . . . . . . 3\n1.1 Integers . . . . . . . . 3\n1.2 Fractions . . . . . . . . 3\n"
    "Chapter 2 Shapes . . . . . . . . 4\n2.1 Triangles . . . . . . . . 4\n2.2 Circles . . . . . . . . 4",
    "Chapter 1 Numbers\nNumbers count things. Every equation in this book uses numbers, and we solve each one.\n\n"
    "1.1 Integers\nAn integer is a whole number. Integers can be positive, negative or zero, and the sum of two "
    "integers is an integer." + MORE + "\n\n1.2 Fractions\nA fraction is a ratio of two integers. To add fractions, "
    "first write them over a common denominator, then add the numerators." + MORE,
    "Chapter 2 Shapes\nShapes are studied in geometry. Each angle is measured in degrees.\n\n2.1 Triangles\n"
    "The angles of a triangle add up to 180 degrees. A right triangle has one angle of 90 degrees." + MORE + "\n\n"
    "2.2 Circles\nA circle is the set of points at one distance from the centre; the ratio of circumference to "
    "diameter is pi." + MORE,
]


@pytest.fixture(scope="module")
def factory_run(tmp_path_factory):
    from tests.support.pdfs import deep_outline_book, text_pdf, two_column_scan
    from tutorforge.pdf.ingest import IngestConfig, ingest

    d = tmp_path_factory.mktemp("pdfs")
    deep_outline_book(d / "deep_outline.pdf", chapters=6, depth=3)
    two_column_scan(d / "two_column_scan.pdf")
    text_pdf(d / "numbered_only.pdf", NUMBERED_BOOK)
    res = ingest(IngestConfig(input=str(d), output=str(d / "out"), cache_dir=""))
    assert not [q for q in res["quarantine"] if q["action"] == "rejected"], res["quarantine"]
    recs, rep = segment_records(res["pages"], res["documents"], SegmentConfig())
    by_file: dict[str, list[dict]] = {}
    for r in recs:
        by_file.setdefault(r["file"], []).append(r)
    return res, by_file, rep


def test_e2e_deep_outline_book(factory_run):
    res, by_file, rep = factory_run
    recs = by_file["deep_outline.pdf"]
    drep = rep["documents"]["deep_outline.pdf"]
    assert drep["method"] == "outline" and drep["outline_located"] == drep["outline_entries"] == 42
    assert len(recs) == 42 and [r["page_start"] for r in recs] == list(range(1, 43))
    assert recs[0]["heading_path"] == ["Chapter 1 Topic 1"]
    assert recs[6]["heading_path"] == ["Chapter 1 Topic 1", "1.2 Section 1.2", "1.2.2 Topic 1.2.2"]
    assert recs[-1]["heading_path"][0] == "Chapter 6 Topic 6" and max(r["level"] for r in recs) == 3
    assert all(r["text"].startswith(r["heading_path"][-1].split()[0]) for r in recs)
    assert_exact(recs, res["pages"])


def test_e2e_two_column_skewed_scan(factory_run):
    from tests.support.pdfs import TWO_COLUMN_TEXT

    res, by_file, _ = factory_run
    [rec] = by_file["two_column_scan.pdf"]
    assert rec["heading_path"] == ["Unit 3 Energy in Living Things and Machines"] and rec["method"] == "headings"
    words = rec["text"].split()
    left, right = words.index("photosynthesis."), words.index("Newton's")
    assert left < right and "breathe." in words[left:right]  # columns read one after the other
    assert rec["subject"] in SegmentConfig().subjects + ["unknown"]
    flat = " ".join(words)
    assert all(" ".join(col.split()[:6]) in flat for col in TWO_COLUMN_TEXT)
    assert_exact([rec], res["pages"])


def test_e2e_numbered_headings_no_outline_no_fonts(factory_run):
    res, by_file, rep = factory_run
    recs = by_file["numbered_only.pdf"]
    drep = rep["documents"]["numbered_only.pdf"]
    assert drep["method"] == "headings" and drep["toc_pages"] == [2] and drep["front_matter_pages"] == [1]
    assert [r["heading_path"][-1] for r in recs] == ["1.1 Integers", "1.2 Fractions", "2.1 Triangles", "2.2 Circles"]
    assert [r["chapter"] for r in recs] == ["Chapter 1 Numbers"] * 2 + ["Chapter 2 Shapes"] * 2
    assert {r["subject"] for r in recs} == {"mathematics"} and recs[0]["subject_source"] == "classifier:section"
    assert_exact(recs, res["pages"])


# ---- the bundled sample corpus (data/textbooks, built by scripts/build_corpus.py) ----------------------------------


@pytest.fixture(scope="module")
def corpus_run(root, tmp_path_factory):
    import subprocess
    import sys

    from tutorforge.core.io import read_json
    from tutorforge.pdf.ingest import IngestConfig, ingest

    pdfs, manifest = root / "data" / "textbooks", root / "data" / "sources" / "corpus_manifest.json"
    if not (manifest.exists() and any(pdfs.glob("*.pdf"))):
        if not any((root / "data" / "sources").glob("*.md")):
            pytest.skip("no sample corpus (data/sources/*.md) in this checkout")
        pdfs = tmp_path_factory.mktemp("textbooks")
        subprocess.run(
            [
                sys.executable,
                str(root / "scripts" / "build_corpus.py"),
                "--output",
                str(pdfs),
                "--truth-dir",
                str(pdfs),
            ],
            check=True,
            capture_output=True,
        )
        manifest = pdfs / "corpus_manifest.json"
    from tutorforge.core.config import load_config
    from tutorforge.core.ids import sha256_file

    done = root / "artifacts" / "ingest"
    if (
        (done / "pages.jsonl").exists()
        and (done / "documents.jsonl").exists()
        and {d["file"]: d["sha256"] for d in read_jsonl(done / "documents.jsonl")}
        == {p.name: sha256_file(p) for p in pdfs.glob("*.pdf")}
    ):  # the pipeline's ingest of these very PDFs
        res = {"pages": list(read_jsonl(done / "pages.jsonl")), "documents": list(read_jsonl(done / "documents.jsonl"))}
    else:  # params.yaml's ingest section + the project's ingest cache (shared with `dvc repro` and the ingest tests)
        cfg = load_config(
            IngestConfig,
            "ingest",
            root / "params.yaml",
            {
                "ingest.input": str(pdfs),
                "ingest.cache_dir": str(root / ".cache" / "ingest"),
                "ingest.output": str(tmp_path_factory.mktemp("ingest")),
            },
        )
        res = ingest(cfg)
    recs, rep = segment_records(res["pages"], res["documents"], SegmentConfig())
    return res, recs, rep, read_json(manifest)["books"]


@pytest.mark.slow
def test_corpus_every_book_yields_its_chapters_and_sections_in_order(corpus_run):
    from tutorforge.segment.headings import norm

    res, recs, rep, books = corpus_run
    assert {b["file"] for b in books} == {r["file"] for r in recs}
    assert sum(p["method"] == "ocr" for p in res["pages"]) >= 10
    for book in books:
        secs = [r for r in recs if r["file"] == book["file"]]
        drep = rep["documents"][book["file"]]
        assert drep["method"] == ("outline" if book["has_outline"] else "headings"), book["file"]
        titles = {norm(h["title"]) for h in book["headings"]}
        assert all(norm(t) in titles for r in secs for t in r["heading_path"]), book["file"]  # no invented headings
        first = next(k for k, h in enumerate(book["headings"]) if h["title"].startswith("Chapter"))
        chapters = [norm(h["title"]) for h in book["headings"][first:] if h["level"] == 1]  # front matter skipped
        assert list(dict.fromkeys(norm(r["chapter"]) for r in secs)) == chapters, book["file"]
        where = []  # index of the section holding each level-2 heading (as its path or merged into its text)
        for h in (h for h in book["headings"] if h["level"] == 2):
            t = norm(h["title"])
            hit = [i for i, r in enumerate(secs) if t in map(norm, r["heading_path"]) or t in norm(r["text"])]
            assert hit, (book["file"], h["title"])
            where.append(hit[0])
        assert where == sorted(where), book["file"]
        assert {r["subject"] for r in secs} == {book["subject"]} and book["subject"] in SegmentConfig().subjects
        toc = [book["toc_page"]] if book["toc_page"] else []
        assert drep["toc_pages"] == toc and not any(s["page"] in toc for r in secs for s in r["spans"])
        body = (
            {p["page"] for p in res["pages"] if p["file"] == book["file"]} - set(toc) - set(drep["front_matter_pages"])
        )
        assert body <= {s["page"] for r in secs for s in r["spans"]}, book["file"]  # OCR'd pages included
    assert_exact(recs, res["pages"])
