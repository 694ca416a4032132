"""The textbook index (stages/index.py, tutorforge/retrieval): page-bounded chunks, built from the bundled sample
books by the real stages, finds the page and section that answer the frozen benchmark's retrieval questions, is
byte-reproducible, filters by subject, and refuses an edited folder or another encoder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.support.sample_index import build_sample_index, index_args
from tests.support.sections import SECTIONS
from tests.support.stage_process import run_stage
from tutorforge.core.io import read_jsonl
from tutorforge.eval.benchmark import load_benchmark
from tutorforge.retrieval.chunks import chunk_records, loose_pages, windows
from tutorforge.retrieval.store import IndexLoadError, TextbookIndex

ROOT = Path(__file__).resolve().parent.parent


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# ---- chunking ---------------------------------------------------------------------------------------------------------
def test_windows_cover_every_word_with_the_overlap():
    assert windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert windows(3, 120, 30) == [(0, 3)]
    for n, size, overlap in [(1, 5, 0), (250, 120, 30), (121, 120, 30), (500, 60, 15)]:
        w = windows(n, size, overlap)
        assert w[0][0] == 0 and w[-1][1] == n and all(b - a <= size for a, b in w)
        assert all(w[i + 1][0] == w[i][1] - overlap for i in range(len(w) - 1))
    with pytest.raises(ValueError, match="must exceed the overlap"):
        windows(10, 5, 5)


def book_sections() -> tuple[list[dict], dict[tuple[str, int], str]]:
    """Sections as segment writes them (spans into page texts, text = the parts joined by newlines) over pages made of
    the fixture sections' prose: page 2n holds the end of section n-1's text and the start of section n's."""
    pages, sections, page = {}, [], 2
    for n, sec in enumerate(SECTIONS[:6]):
        head, tail = sec["text"][: len(sec["text"]) // 2], sec["text"][len(sec["text"]) // 2 :]
        before = pages.get(("book", page), "")
        pages[("book", page)] = before + head
        pages[("book", page + 1)] = tail + "\n"
        spans = [
            {"page": page, "start": len(before), "end": len(before) + len(head)},
            {"page": page + 1, "start": 0, "end": len(tail)},
        ]
        sections.append(sec | {"doc_id": "book", "spans": spans, "text": head + "\n" + tail, "section_id": f"s{n}"})
        page += 1
    return sections, pages


def test_chunks_stay_on_one_page_and_are_exact_slices_of_their_page():
    sections, pages = book_sections()
    labels = {key: f"p{key[1]}" for key in pages}
    chunks = chunk_records(sections, labels, words=20, overlap=5, min_words=3)
    assert len({c["chunk_id"] for c in chunks}) == len(chunks) and len(chunks) > 12
    by_id = {s["section_id"]: s for s in sections}
    for c in chunks:
        sec = by_id[c["section_id"]]
        assert pages[(c["doc_id"], c["page"])][c["start"] : c["end"]] == c["text"] and len(c["text"].split()) <= 20
        [span] = [sp for sp in sec["spans"] if sp["page"] == c["page"]]
        assert span["start"] <= c["start"] and c["end"] <= span["end"]  # inside the section's part of that page
        assert c["page_label"] == f"p{c['page']}" and c["heading_path"] == sec["heading_path"]
        assert c["subject"] == sec["subject"]
    for sec in sections:  # every word of every page part is in a chunk of that page
        for sp in sec["spans"]:
            got = " ".join(
                c["text"] for c in chunks if c["section_id"] == sec["section_id"] and c["page"] == sp["page"]
            )
            assert set(pages[(sec["doc_id"], sp["page"])][sp["start"] : sp["end"]].split()) <= set(got.split())
    assert chunk_records(sections, labels, 20, 5, 3) == chunks  # same input, same chunks and ids


def test_pages_no_section_covers_are_indexed_except_contents_pages():
    sec = SECTIONS[0]
    pages = [
        {"doc_id": sec["doc_id"], "file": sec["file"], "page": 1, "text": "How to Use This Book\nRead each part."},
        {"doc_id": sec["doc_id"], "file": sec["file"], "page": 9, "text": "Contents\n1 Cells 3"},
        {"doc_id": sec["doc_id"], "file": sec["file"], "page": sec["spans"][0]["page"], "text": "covered"},
        {"doc_id": sec["doc_id"], "file": sec["file"], "page": 10, "text": "  "},
    ]
    [loose] = loose_pages([sec], pages, skip={(sec["doc_id"], 9)})
    assert loose["heading_path"] == ["How to Use This Book"] and loose["subject"] == sec["subject"]
    assert loose["spans"] == [{"page": 1, "start": 0, "end": len(pages[0]["text"])}]
    [chunk] = chunk_records([loose], {}, 120, 30, 3)
    assert chunk["text"] == pages[0]["text"] and chunk["page_label"] == "1"


# ---- the index of the sample books, built by the real stages ------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


def section_recall(idx: TextbookIndex, units: dict[str, str], items: list[dict], k: int, subject=None) -> float:
    """Share of grounded items whose evidence is in the text of one of the k hits' sections (`units`: section id ->
    text, loose pages included); `subject(item)` filters the search."""
    hits = [idx.search(it["question"], k, subject(it) if subject else None) for it in items]
    return sum(
        any(squash(it["evidence"]) in squash(units[h.chunk["section_id"]]) for h in hs)
        for it, hs in zip(items, hits, strict=True)
    ) / len(items)


def test_retrieval_finds_the_section_and_page_of_the_benchmark_answers(built: Path):
    idx = TextbookIndex.load(built / "index")
    report = json.loads((built / "index" / "report.json").read_text())
    assert report["front_matter_pages"] >= 4 and report["dropped_parts"] == 0 and report["dim"] == 384
    assert {c["subject"] for c in idx.chunks} == {"biology", "chemistry", "physics", "mathematics"}
    pages = {(p["doc_id"], p["page"]): p["text"] for p in read_jsonl(built / "ingest" / "pages.jsonl")}
    units = {s["section_id"]: s["text"] for s in read_jsonl(built / "segment" / "sections.jsonl")}
    units |= {c["section_id"]: pages[(c["doc_id"], c["page"])] for c in idx.chunks if c["section_id"] not in units}
    assert all(pages[(c["doc_id"], c["page"])][c["start"] : c["end"]] == c["text"] for c in idx.chunks)
    grounded = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1").items("grounded")
    assert section_recall(idx, units, grounded, 3) >= 0.9
    page_hits = [
        (it["doc"], it["page"]) in {(h.chunk["file"], h.chunk["page"]) for h in idx.search(it["question"], 3)}
        for it in grounded
    ]
    assert sum(page_hits) / len(grounded) >= 0.9
    # the metric can say "bad": searching the wrong subject's pages finds (almost) nothing
    wrong = {"biology": "mathematics", "chemistry": "biology", "physics": "chemistry", "mathematics": "physics"}
    assert section_recall(idx, units, grounded, 3, subject=lambda it: wrong[it["subject"]]) <= 0.1
    # citations carry the printed page label: biology's PDF page 2 is printed "1"
    bio2 = [c for c in idx.chunks if c["file"] == "biology.pdf" and c["page"] == 2]
    assert bio2 and {c["page_label"] for c in bio2} == {"1"}


def test_subject_filter_returns_the_best_of_that_subject(built: Path):
    idx = TextbookIndex.load(built / "index")
    q = "What is the speed of a wave?"
    for subject in idx.subjects:
        hits = idx.search(q, 5, subject)
        assert len(hits) == 5 and {h.chunk["subject"] for h in hits} == {subject}
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert idx.search(q, 3, "astrology") == []
    assert [h.chunk["chunk_id"] for h in idx.search(q, 2)] == [
        h.chunk["chunk_id"] for h in idx.search_many([q, "x"], 2)[0]
    ]


def test_same_inputs_and_params_give_byte_identical_index(built: Path, tmp_path: Path):
    again = tmp_path / "again"
    args = index_args(again, built / "segment" / "sections.jsonl", built / "ingest", built / "segment")
    proc = run_stage(ROOT, "index", *args)
    assert proc.returncode == 0, proc.stderr
    for name in ("chunks.jsonl", "index.faiss", "manifest.json", "report.json"):
        assert (again / name).read_bytes() == (built / "index" / name).read_bytes(), name


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda d: d.joinpath("chunks.jsonl").write_text(d.joinpath("chunks.jsonl").read_text() + "\n"),
            "chunks.jsonl: sha256 differs",
        ),
        (lambda d: d.joinpath("index.faiss").unlink(), "index.faiss: missing"),
        (lambda d: d.joinpath("manifest.json").write_text("[1, 2]"), "manifest.json: not a JSON object"),
        (lambda d: d.joinpath("manifest.json").unlink(), "no manifest.json"),
        (
            lambda d: d.joinpath("manifest.json").write_text(
                json.dumps(json.loads(d.joinpath("manifest.json").read_text()) | {"embedder_digest": "0" * 64})
            ),
            "built with encoder 'minilm'",
        ),
    ],
    ids=["edited-chunks", "missing-faiss", "manifest-not-object", "no-manifest", "other-encoder"],
)
def test_an_untrustworthy_index_folder_is_refused_in_one_line(built: Path, tmp_path: Path, tamper, message: str):
    copy = tmp_path / "index"
    shutil.copytree(built / "index", copy)
    tamper(copy)
    with pytest.raises(IndexLoadError, match=re.escape(message)) as err:
        TextbookIndex.load(copy)
    assert "\n" not in str(err.value)
