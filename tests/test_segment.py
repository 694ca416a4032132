"""Segment on synthetic page records: headings vs outline, front matter, merging/splitting with exact spans, subjects
per section, stable ids, and the stage (stages.segment: deterministic outputs, bad input, previous outputs kept)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.segment import main
from stages.segment import run as segment
from tests.support.pages import BODY, assert_exact, heading_book, mkpage, outline_book, para
from tutorforge.core.io import read_jsonl, write_jsonl
from tutorforge.core.stage import StageError
from tutorforge.segment.sections import SegmentConfig, segment_document
from tutorforge.segment.subjects import SubjectClassifier


def run(pages: list[dict], doc: dict | None = None, **kw) -> tuple[list[dict], dict]:
    cfg = SegmentConfig(**({"min_chars": 100} | kw))
    clf = SubjectClassifier(cfg.subjects, cfg.subject_keywords, cfg.subject_min_confidence, cfg.subject_min_score)
    doc = doc or {"doc_id": pages[0]["doc_id"], "file": pages[0]["file"]}
    return segment_document(doc, pages, cfg, clf)


def test_heading_driven_sections_in_order_toc_and_front_matter_skipped():
    pages = heading_book()
    recs, rep = run(pages)
    assert [r["heading_path"] for r in recs] == [
        ["Chapter 1 Cells"],
        ["Chapter 1 Cells", "1.1 The Cell"],
        ["Chapter 1 Cells", "1.2 Membranes"],
        ["Chapter 2 Tissues", "2.1 Epithelium"],
    ]
    assert [r["level"] for r in recs] == [1, 2, 2, 2]
    assert rep["method"] == "headings" and {r["method"] for r in recs} == {"headings"}
    assert rep["toc_pages"] == [2] and rep["front_matter_pages"] == [1]
    assert all(s["page"] not in (1, 2) for r in recs for s in r["spans"])
    assert "1.3 Not a heading" in recs[2]["text"]  # unstyled numbered list item stays in 1.2
    assert recs[3]["text"].startswith("Chapter 2  Tissues\n2.1 Epithelium")  # bare chapter heading merged forward
    assert recs[1]["page_start"] == 3 and recs[1]["page_end"] == 4  # 1.1 continues onto page 4
    assert recs[0]["chapter"] == "Chapter 1 Cells"
    assert_exact(recs, pages)
    # every content character (not TOC, not front matter) lands in exactly one section
    covered = sum(r["n_chars"] for r in recs) + len(recs) - sum(len(r["spans"]) for r in recs)
    content = sum(len(p["text"].strip()) for p in pages[2:])
    assert covered <= content and content - covered < 10 * len(pages)


def test_front_matter_kept_as_sections():
    recs, rep = run(heading_book(), front_matter="section")
    assert recs[0]["heading_path"] == ["Biology for Schools"] and recs[0]["text"].endswith("Second edition")
    assert recs[1]["heading_path"] == ["Chapter 1 Cells"] and rep["front_matter_pages"] == []
    assert not any("Contents" in r["text"] for r in recs)
    pages = heading_book()
    pages[0] = mkpage(
        "docA",
        1,
        [
            ("Published by TutorForge, free to reuse.", BODY, False),
            ("Biology for Schools", 24, True),
            ("Second edition", 12, False),
        ],
    )
    recs, _ = run(pages, front_matter="section")
    assert recs[0]["heading_path"] == ["Introduction"] and recs[0]["text"] == "Published by TutorForge, free to reuse."
    assert recs[1]["heading_path"] == ["Biology for Schools"]
    assert_exact(recs, pages)


def test_outline_front_matter_entries_skipped_by_default():
    doc, pages = outline_book()
    doc = doc | {
        "outline": [
            {"level": 1, "title": "Physics Now", "page": 1},
            {"level": 1, "title": "Chapter 1 Forces", "page": 2},
            *doc["outline"][1:],
        ]
    }
    recs, rep = run(pages, doc)
    assert recs[0]["heading_path"] == ["Chapter 1 Forces"] and rep["front_matter_pages"] == [1]
    recs, rep = run(pages, doc, front_matter="section")
    assert recs[0]["heading_path"] == ["Physics Now"] and recs[0]["text"] == "Physics Now"


def test_outline_driven_locates_titles_fuzzily():
    doc, pages = outline_book()
    recs, rep = run(pages, doc)
    assert rep["method"] == "outline" and rep["outline_located"] == 3 and rep["outline_page_fallback"] == 1
    assert [r["heading_path"] for r in recs] == [
        ["Forces"],
        ["Forces", "1.1 Newton's Laws"],
        ["Forces", "1.2 Friction and Drag"],
        ["Energy"],
    ]
    assert recs[0]["text"].startswith("Chapter 1\nForces")  # bare "Chapter 1" line above the title joins it
    assert recs[0]["page_end"] == 3 and recs[0]["text"].endswith(
        "More line 4: the cell membrane controls what enters and leaves the cell by diffusion."
    )
    assert recs[1]["text"].startswith("1.1 Newton's Laws")
    assert recs[2]["text"].startswith("1.2 Fr1ction and Drag")  # OCR noise, matched fuzzily
    assert recs[3]["spans"] == [{"page": 5, "start": 0, "end": len(pages[4]["text"])}]  # not found: page top
    assert {r["subject"] for r in recs} == {"physics"} and recs[0]["subject_source"] == "map"
    assert_exact(recs, pages)


def test_outline_ignored_when_invalid_or_disabled():
    doc, pages = outline_book()
    for d, kw in ((doc | {"outline_status": "invalid: cycle"}, {}), (doc, {"use_outline": False})):
        recs, rep = run(pages, d, **kw)
        assert rep["method"] == "headings"
        assert recs[0]["heading_path"][0] == "Chapter 1 Forces"


def test_deep_outline_three_levels_and_max_level():
    pages, outline, n = [], [], 0
    for c in range(1, 4):
        for s in range(0, 3):
            for t in range(0, 3 if s else 1):
                n += 1
                title = f"Chapter {c} Topic {c}" if not s else f"{c}.{s} Part {c}.{s}" if not t else f"{c}.{s}.{t} Bit"
                level = 1 if not s else 2 if not t else 3
                pages.append(mkpage("deep", n, [(title, {1: 20, 2: 14, 3: 12}[level], True), *para(title, 3)]))
                outline.append({"level": level, "title": title, "page": n})
    doc = {"doc_id": "deep", "file": "biology_deep.pdf", "outline": outline, "outline_status": "ok"}
    recs, rep = run(pages, doc)
    assert len(recs) == len(outline) == 3 * (1 + 2 * 3) and rep["outline_located"] == len(outline)
    assert recs[3]["heading_path"] == ["Chapter 1 Topic 1", "1.1 Part 1.1", "1.1.2 Bit"] and recs[3]["level"] == 3
    assert [r["page_start"] for r in recs] == list(range(1, n + 1))
    recs2, _ = run(pages, doc, max_level=2)
    assert len(recs2) == 9 and max(r["level"] for r in recs2) == 2
    assert "1.1.2 Bit" in recs2[1]["text"] and recs2[1]["page_end"] == 4
    assert_exact(recs, pages)
    assert_exact(recs2, pages)


def test_spans_exact_with_split_and_merge():
    pages = [
        mkpage(
            "L",
            n,
            [
                (f"Chapter {n}  Long Chapter {n}", 20, True),
                *para(f"p{n}", 30),
                ("", None, False),
                *para(f"q{n}", 30),
                ("Tiny", 14, True),
                ("one line", BODY, False),
            ],
        )
        for n in range(1, 3)
    ]
    recs, rep = run(pages, max_chars=2500, min_chars=200)
    assert rep["split_long"] == 2 and rep["merged_short"] == 2
    ch1 = [r for r in recs if r["chapter"] == "Chapter 1 Long Chapter 1"]
    assert [r["part"] for r in ch1] == list(range(1, len(ch1) + 1)) and ch1[0]["n_parts"] == len(ch1) >= 2
    assert all(r["n_chars"] <= 2500 for r in recs)
    assert len({r["section_id"] for r in recs}) == len(recs)
    assert ch1[-1]["text"].endswith("Tiny\none line")  # short last section merged into the previous one
    assert_exact(recs, pages)


def test_unmapped_document_mixes_subjects_per_section():
    pages = [
        mkpage(
            "mix",
            1,
            [
                ("Chapter 1  Living Things", 20, True),
                *para("Cells", 4),
                ("Tissues and organs are built from cells; enzymes and DNA inside every organism.", BODY, False),
            ],
            "science_mixed.pdf",
        ),
        mkpage(
            "mix",
            2,
            [
                ("Chapter 2  Moving Things", 20, True),
                *[
                    (f"A force changes motion {i}: velocity, acceleration, momentum and friction.", BODY, False)
                    for i in range(5)
                ],
            ],
            "science_mixed.pdf",
        ),
        mkpage(
            "mix",
            3,
            [
                ("Chapter 3  Odds and Ends", 20, True),
                ("We went for a walk and had some tea.", BODY, False),
                ("It rained all afternoon, then the sun came out again.", BODY, False),
                ("Everyone agreed it was a lovely day in the end, really.", BODY, False),
            ],
            "science_mixed.pdf",
        ),
    ]
    recs, rep = run(pages)
    assert [r["subject"] for r in recs][:2] == ["biology", "physics"] and recs[2]["subject"] in ("biology", "physics")
    assert [r["subject_source"] for r in recs] == ["classifier:section", "classifier:section", "classifier:document"]
    recs, _ = run(pages, subject_map={"science_*": "physics"})
    assert {r["subject"] for r in recs} == {"physics"}
    recs, _ = run(pages, {"doc_id": "mix", "file": "science_mixed.pdf", "title": "Chemistry for All"})
    assert {(r["subject"], r["subject_source"]) for r in recs} == {("chemistry", "map")}


def write_ingest(tmp: Path, pages: list[dict], docs: list[dict]) -> Path:
    d = tmp / "ingest"
    write_jsonl(d / "pages.jsonl", pages)
    write_jsonl(d / "documents.jsonl", docs)
    return d


def test_cli_deterministic_and_report(tmp_path):
    doc, opages = outline_book()
    hpages = heading_book()
    src = write_ingest(tmp_path, hpages + opages, [doc])
    params = tmp_path / "params.yaml"
    params.write_text("subjects: [biology, chemistry, physics, mathematics]\nsegment:\n  min_chars: 100\n")
    assert main(["-p", str(params), "-S", f"segment.input={src}", "-S", f"segment.output={tmp_path / 'a'}"]) == 0
    assert (
        main(
            ["-p", str(params), "-S", f"segment.input={src / 'pages.jsonl'}", "-S", f"segment.output={tmp_path / 'b'}"]
        )
        == 0
    )
    for name in ("sections.jsonl", "report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    recs = list(read_jsonl(tmp_path / "a" / "sections.jsonl"))
    rep = json.loads((tmp_path / "a" / "report.json").read_text())
    assert rep["n_sections"] == len(recs) == 8 and rep["toc_pages_detected"] == 1
    assert rep["methods"] == {"headings": 1, "outline": 1}
    assert rep["sections_per_subject"] == {"biology": 4, "physics": 4}
    assert rep["sections_per_file"] == {"biology_book.pdf": 4, "physics_now.pdf": 4}
    assert rep["mean_section_chars"] == round(sum(r["n_chars"] for r in recs) / len(recs), 1)
    assert [r["file"] for r in recs] == ["biology_book.pdf"] * 4 + ["physics_now.pdf"] * 4
    assert_exact(recs, hpages + opages)


def test_section_ids_stable_under_text_fixes_but_not_headings():
    ids = [r["section_id"] for r in run(heading_book())[0]]
    assert ids == [r["section_id"] for r in run(heading_book(fix_typo=True))[0]]
    assert len(set(ids)) == len(ids)
    ids2 = [r["section_id"] for r in run(heading_book(h12="1.2 Cell Membranes"))[0]]
    assert ids2[:2] == ids[:2] and ids2[2] != ids[2] and ids2[3] == ids[3]


def test_bad_input_clear_error_and_previous_output_kept(tmp_path):
    out = tmp_path / "out"
    src = write_ingest(tmp_path, heading_book(), [])
    segment(SegmentConfig(input=str(src), output=str(out)))
    before = (out / "sections.jsonl").read_bytes()
    with pytest.raises(StageError, match="no pages file"):
        segment(SegmentConfig(input=str(tmp_path / "nowhere"), output=str(out)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"doc_id": "x", "page": 1}) + "\n")
    with pytest.raises(StageError, match="lacks"):
        segment(SegmentConfig(input=str(broken), output=str(out)))
    broken.write_text("")
    with pytest.raises(StageError, match="no pages"):
        segment(SegmentConfig(input=str(broken), output=str(out)))
    assert (out / "sections.jsonl").read_bytes() == before
    with pytest.raises(ValueError, match="front_matter"):
        SegmentConfig(front_matter="keep")


def test_chapters_only_outline_filled_with_detected_sections():
    pages = heading_book()
    outline = [{"level": 1, "title": "Cells", "page": 3}, {"level": 1, "title": "Tissues", "page": 5}]
    doc = {"doc_id": "docA", "file": "biology_book.pdf", "outline": outline, "outline_status": "ok"}
    recs, rep = run(pages, doc)
    assert rep["method"] == "outline" and rep["outline_filled"] == 3
    assert [r["heading_path"] for r in recs] == [
        ["Cells"],
        ["Cells", "1.1 The Cell"],
        ["Cells", "1.2 Membranes"],
        ["Tissues", "2.1 Epithelium"],
    ]
    recs, rep = run(pages, doc, outline_fill=False)
    assert [r["heading_path"] for r in recs] == [["Cells"], ["Tissues"]] and "outline_filled" not in rep
