"""Tests for tutorforge.segment.sections (pages -> sections) and its helpers (tutorforge.segment.headings / subjects)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorforge.core.io import read_jsonl, write_jsonl
from tutorforge.segment.headings import detect_headings, is_toc_page, locate_title, page_lines
from tutorforge.segment.sections import SegmentConfig, main, segment, segment_document, segment_records
from tutorforge.segment.subjects import SubjectClassifier, map_subject

BODY = 10.5


def mkpage(doc_id: str, n: int, lines: list[tuple[str, float | None, bool]], file: str = "biology_book.pdf",
           method: str = "text") -> dict:
    """A pages.jsonl record per the ingest contract, built from (line text, size, bold) triples."""
    parts, recs, pos = [], [], 0
    for t, size, bold in lines:
        recs.append({"start": pos, "end": pos + len(t), "size": size, "bold": bold})
        parts.append(t)
        pos += len(t) + 1
    text = "\n".join(parts)
    return {"doc_id": doc_id, "file": file, "page": n, "page_label": str(n), "text": text, "method": method,
            "ocr_confidence": 91.0 if method == "ocr" else None, "chars": len(text), "lines": recs}


def para(topic: str, n: int = 5, size: float = BODY) -> list[tuple[str, float, bool]]:
    return [(f"{topic} line {i}: the cell membrane controls what enters and leaves the cell by diffusion.", size, False)
            for i in range(n)]


def heading_book(doc_id: str = "docA", file: str = "biology_book.pdf", fix_typo: bool = False,
                 h12: str = "1.2 Membranes") -> list[dict]:
    """Title page, printed contents page, 2 chapters with numbered sections, an unstyled numbered list item."""
    body = para("Typo fixed" if fix_typo else "Typo fxied")
    return [
        mkpage(doc_id, 1, [("Biology for Schools", 24, True), ("Second edition", 12, False)], file),
        mkpage(doc_id, 2, [("Contents", 16, True), ("Chapter 1 Cells .......... 3", BODY, False),
                           ("1.1 The Cell .......... 3", BODY, False), ("1.2 Membranes .......... 4", BODY, False),
                           ("Chapter 2 Tissues .......... 5", BODY, False), ("2.1 Epithelium .......... 5", BODY, False)],
               file),
        mkpage(doc_id, 3, [("Chapter 1  Cells", 20, True), *para("Intro"), ("1.1 The Cell", 14, True), *body], file),
        mkpage(doc_id, 4, [*para("Cont"), (h12, 14, True), *para("Mem"),
                           ("1.3 Not a heading because this list item is plain", BODY, False), *para("More")], file),
        mkpage(doc_id, 5, [("Chapter 2  Tissues", 20, True), ("2.1 Epithelium", 14, True), *para("Epi")], file),
    ]


def outline_book(doc_id: str = "docO") -> tuple[dict, list[dict]]:
    """Outline titles differ from the printed lines: chapter title without "Chapter 2", OCR noise, a missing title."""
    pages = [
        mkpage(doc_id, 1, [("Physics Now", 30, True)], "physics_now.pdf"),
        mkpage(doc_id, 2, [("Chapter 1", 20, True), ("Forces", 20, True), *para("Force")], "physics_now.pdf"),
        mkpage(doc_id, 3, [*para("More"), ("1.1 Newton's Laws", 14, True), *para("Newton")], "physics_now.pdf"),
        mkpage(doc_id, 4, [("1.2 Fr1ction and Drag", 15, False), *para("Drag")], "physics_now.pdf", method="ocr"),
        mkpage(doc_id, 5, [*para("Energy")], "physics_now.pdf"),
    ]
    outline = [{"level": 1, "title": "Forces", "page": 2}, {"level": 2, "title": "1.1 Newton's Laws", "page": 3},
               {"level": 2, "title": "1.2 Friction and Drag", "page": 4}, {"level": 1, "title": "Energy", "page": 5}]
    doc = {"doc_id": doc_id, "file": "physics_now.pdf", "sha256": "0" * 64, "n_pages": 5, "outline": outline,
           "outline_status": "ok", "page_labels": None, "title": "Physics Now"}
    return doc, pages


def run(pages: list[dict], doc: dict | None = None, **kw) -> tuple[list[dict], dict]:
    cfg = SegmentConfig(**({"min_chars": 100} | kw))
    clf = SubjectClassifier(cfg.subjects, cfg.subject_keywords, cfg.subject_min_confidence, cfg.subject_min_score)
    doc = doc or {"doc_id": pages[0]["doc_id"], "file": pages[0]["file"]}
    return segment_document(doc, pages, cfg, clf)


def assert_exact(records: list[dict], pages: list[dict]) -> None:
    """Spans reconstruct every section's text exactly; sections never overlap."""
    texts = {(p["doc_id"], p["page"]): p["text"] for p in pages}
    seen: set[tuple] = set()
    for r in records:
        assert r["text"] == "\n".join(texts[r["doc_id"], s["page"]][s["start"]:s["end"]] for s in r["spans"])
        assert r["n_chars"] == len(r["text"]) and r["text"].strip() == r["text"]
        assert r["page_start"] == r["spans"][0]["page"] and r["page_end"] == r["spans"][-1]["page"]
        for s in r["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(texts[r["doc_id"], s["page"]])
            chars = {(r["doc_id"], s["page"], i) for i in range(s["start"], s["end"])}
            assert not chars & seen
            seen |= chars


def test_heading_driven_sections_in_order_toc_and_front_matter_skipped():
    pages = heading_book()
    recs, rep = run(pages)
    assert [r["heading_path"] for r in recs] == [
        ["Chapter 1 Cells"], ["Chapter 1 Cells", "1.1 The Cell"], ["Chapter 1 Cells", "1.2 Membranes"],
        ["Chapter 2 Tissues", "2.1 Epithelium"]]
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
    pages[0] = mkpage("docA", 1, [("Published by TutorForge, free to reuse.", BODY, False),
                                  ("Biology for Schools", 24, True), ("Second edition", 12, False)])
    recs, _ = run(pages, front_matter="section")
    assert recs[0]["heading_path"] == ["Introduction"] and recs[0]["text"] == "Published by TutorForge, free to reuse."
    assert recs[1]["heading_path"] == ["Biology for Schools"]
    assert_exact(recs, pages)


def test_outline_front_matter_entries_skipped_by_default():
    doc, pages = outline_book()
    doc = doc | {"outline": [{"level": 1, "title": "Physics Now", "page": 1},
                             {"level": 1, "title": "Chapter 1 Forces", "page": 2}, *doc["outline"][1:]]}
    recs, rep = run(pages, doc)
    assert recs[0]["heading_path"] == ["Chapter 1 Forces"] and rep["front_matter_pages"] == [1]
    recs, rep = run(pages, doc, front_matter="section")
    assert recs[0]["heading_path"] == ["Physics Now"] and recs[0]["text"] == "Physics Now"


def test_outline_driven_locates_titles_fuzzily():
    doc, pages = outline_book()
    recs, rep = run(pages, doc)
    assert rep["method"] == "outline" and rep["outline_located"] == 3 and rep["outline_page_fallback"] == 1
    assert [r["heading_path"] for r in recs] == [["Forces"], ["Forces", "1.1 Newton's Laws"],
                                                 ["Forces", "1.2 Friction and Drag"], ["Energy"]]
    assert recs[0]["text"].startswith("Chapter 1\nForces")  # bare "Chapter 1" line above the title joins it
    assert recs[0]["page_end"] == 3 and recs[0]["text"].endswith("More line 4: the cell membrane controls what "
                                                                 "enters and leaves the cell by diffusion.")
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


@pytest.mark.parametrize("line,size,bold,level", [
    ("Chapter 4  Forces and Motion", 20, True, 1),
    ("CHAPTER 4: FORCES", 20, True, 1),
    ("Unit 3", 18, True, 1),
    ("Chapter IV The Atom", 20, True, 1),
    ("Lesson one: Fractions", 18, True, 1),
    ("IV. Waves and Sound", 20, True, 1),
    ("4.3 The Cell Membrane", 14, True, 2),
    ("4.3.1 Lipid Bilayers", 12, True, 3),
    ("4.3. Osmosis", 14, True, 2),
    ("Summary of Key Ideas", 14, True, 2),
    ("Photosynthesis", 20, False, 1),
    ("Key words", 11.5, True, 3),
    ("Key words", 11.5, False, 0),
    ("Worked example 4.1", BODY, True, 0),
    ("4.3 million cells were counted in the sample", 14, True, 0),
    ("Chapter 4 describes how cells divide and grow.", BODY, False, 0),
    ("4.3 The Cell Membrane", BODY, False, 0),  # styled document: unstyled numbered line is a list item
    ("Figure 4.3 A cell", 14, True, 2),
    ("A long ordinary sentence that happens to be in a slightly bigger font but ends with a period.", 14, True, 0),
])
def test_numbering_and_font_patterns(line, size, bold, level):
    ctx = [("Chapter 4  Context", 20, True), ("4.1 Styled Heading", 14, True)]
    lines = page_lines(mkpage("p", 1, [*ctx, *para("x", 8), (line, size, bold), *para("y", 8)]))
    hs = [h for h in detect_headings([lines]) if h.offset == lines[10].start]
    assert [h.level for h in hs] == ([level] if level else [])


def test_ocr_pages_numbering_without_bold_and_unstyled_book():
    ocr = [mkpage("o", 1, [("CHAPTER 2  Cells and Tissues", 22.0, False), *para("a", 6, 9.6),
                           ("2.1 Cell Structure", 11.9, False), *para("b", 6, 10.2),
                           ("2. 2 Membranes", 10.1, False), *para("c", 6, 9.9)], method="ocr")]
    hs = detect_headings([page_lines(p) for p in ocr])
    assert [(h.level, h.title) for h in hs] == [(1, "CHAPTER 2 Cells and Tissues"), (2, "2.1 Cell Structure"),
                                                (2, "2. 2 Membranes")]
    # a book without any font info: numbering alone carries it
    plain = [mkpage("n", 1, [("Chapter 1 Numbers", None, False), *para("a", 4, None), ("1.1 Integers", None, False),
                             *para("b", 4, None), ("1.1 Integers again goes backwards", None, False)])]
    hs = detect_headings([page_lines(p) for p in plain])
    assert [h.title for h in hs] == ["Chapter 1 Numbers", "1.1 Integers"]


def test_toc_page_detection():
    toc = heading_book()[1]
    assert is_toc_page(page_lines(toc))
    leaders = mkpage("t", 1, [(f"{i} Topic number {i} . . . . . . {i * 7}", BODY, False) for i in range(1, 9)])
    assert is_toc_page(page_lines(leaders))  # untitled, dot leaders
    assert not is_toc_page(page_lines(heading_book()[2]))
    split = [("Contents", 20, True)]  # text, leaders and page number extracted as separate lines
    for i in range(1, 7):
        split += [(f"{i}.1 Section title {i}", BODY, False), (". " * 30, BODY, False), (str(i * 4), BODY, False)]
    assert is_toc_page(page_lines(mkpage("t", 1, split)))
    table = mkpage("t", 2, [("Table 3 Boiling points", 12, True),
                            *[(f"Substance {i} boils at {i * 10}", BODY, False) for i in range(3)],
                            *para("text", 6)])
    assert not is_toc_page(page_lines(table))


def test_locate_title_variants():
    lines = page_lines(mkpage("l", 1, [*para("intro", 2), ("Chapter 3", 20, True), ("The Atom", 20, True),
                                       *para("body", 2), ("3.1 Electr0n She11s", 14, False), *para("z", 2)]))
    assert locate_title("The Atom", lines) == lines[2].start  # bare "Chapter 3" above joins
    assert locate_title("3.1 Electron Shells", lines) == lines[6].start
    assert locate_title("Nuclear Fission", lines) is None
    assert locate_title("The Atom", lines, min_offset=lines[4].start) is None


def test_spans_exact_with_split_and_merge():
    pages = [mkpage("L", n, [(f"Chapter {n}  Long Chapter {n}", 20, True), *para(f"p{n}", 30),
                             ("", None, False), *para(f"q{n}", 30), ("Tiny", 14, True), ("one line", BODY, False)])
             for n in range(1, 3)]
    recs, rep = run(pages, max_chars=2500, min_chars=200)
    assert rep["split_long"] == 2 and rep["merged_short"] == 2
    ch1 = [r for r in recs if r["chapter"] == "Chapter 1 Long Chapter 1"]
    assert [r["part"] for r in ch1] == list(range(1, len(ch1) + 1)) and ch1[0]["n_parts"] == len(ch1) >= 2
    assert all(r["n_chars"] <= 2500 for r in recs)
    assert len({r["section_id"] for r in recs}) == len(recs)
    assert ch1[-1]["text"].endswith("Tiny\none line")  # short last section merged into the previous one
    assert_exact(recs, pages)


def test_subject_mapping_and_classifier():
    m = {"*biolog*": "biology", "chem_*.pdf": "chemistry"}
    assert map_subject("data/textbooks/Biology_Grade9.pdf", m) == "biology"
    assert map_subject("chem_basics.pdf", m) == "chemistry" and map_subject("mystery.pdf", m) is None
    cfg = SegmentConfig()
    clf = SubjectClassifier(cfg.subjects, cfg.subject_keywords)
    assert clf.classify("Newton's law: force equals mass times acceleration; friction and momentum.")[0] == "physics"
    assert clf.classify("An acid reacts with a base to form a salt; ions and electrons in each atom.")[0] == "chemistry"
    assert clf.classify("The weather was lovely on Sunday and we walked to town.") == ("unknown", 0.0)
    subject, conf = SubjectClassifier(cfg.subjects, cfg.subject_keywords, min_confidence=0.99).classify(
        "Energy of a cell: mitochondria turn glucose into energy, a force for life.")
    assert subject == "unknown" and 0 < conf < 0.99
    counts = clf.counts("Cells and cellular tissues; a reaction of ions. Organic chemistry!")
    assert counts["cell"] == 2 and counts["tissue"] == 1 and counts["ion"] == 1 and counts["organic chemistry"] == 1
    with pytest.raises(ValueError, match="unknown subject"):
        SubjectClassifier(cfg.subjects, {"history": ["war"]})
    with pytest.raises(ValueError, match="not in subjects"):
        SegmentConfig(subject_map={"*": "history"})


def test_unmapped_document_mixes_subjects_per_section():
    pages = [
        mkpage("mix", 1, [("Chapter 1  Living Things", 20, True), *para("Cells", 4),
                          ("Tissues and organs are built from cells; enzymes and DNA inside every organism.", BODY, False)],
               "science_mixed.pdf"),
        mkpage("mix", 2, [("Chapter 2  Moving Things", 20, True),
                          *[(f"A force changes motion {i}: velocity, acceleration, momentum and friction.", BODY, False)
                            for i in range(5)]], "science_mixed.pdf"),
        mkpage("mix", 3, [("Chapter 3  Odds and Ends", 20, True), ("We went for a walk and had some tea.", BODY, False),
                          ("It rained all afternoon, then the sun came out again.", BODY, False),
                          ("Everyone agreed it was a lovely day in the end, really.", BODY, False)], "science_mixed.pdf"),
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
    main(["--input", str(src), "--output", str(tmp_path / "a"), "--params", str(params)])
    main(["--input", str(src / "pages.jsonl"), "--output", str(tmp_path / "b"), "--params", str(params)])
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
    with pytest.raises(FileNotFoundError, match="no pages file"):
        segment(SegmentConfig(input=str(tmp_path / "nowhere"), output=str(out)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"doc_id": "x", "page": 1}) + "\n")
    with pytest.raises(ValueError, match="lacks"):
        segment(SegmentConfig(input=str(broken), output=str(out)))
    broken.write_text("")
    with pytest.raises(ValueError, match="no pages"):
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
    assert [r["heading_path"] for r in recs] == [["Cells"], ["Cells", "1.1 The Cell"], ["Cells", "1.2 Membranes"],
                                                 ["Tissues", "2.1 Epithelium"]]
    recs, rep = run(pages, doc, outline_fill=False)
    assert [r["heading_path"] for r in recs] == [["Cells"], ["Tissues"]] and "outline_filled" not in rep


def test_pagetext_spans_skip_excluded_pages_and_trim():
    from tutorforge.segment.pagetext import PageText, span_text
    pages = [{"page": 1, "text": "  alpha\n\n"}, {"page": 2, "text": "TOC ... 3"}, {"page": 3, "text": "beta gamma"}]
    pt = PageText(pages, exclude={1})
    assert pt.text == "  alpha\n\n\nbeta gamma" and pt.pos(2, 5) == 15
    spans = pt.spans(0, len(pt.text))
    assert spans == [{"page": 1, "start": 2, "end": 7}, {"page": 3, "start": 0, "end": 10}]
    assert span_text(pages, spans) == "alpha\nbeta gamma" and pt.size(0, len(pt.text)) == 15
    assert pt.split_points(0, len(pt.text), 12) == [10]  # at the page boundary, not inside a word
    with pytest.raises(ValueError, match="excluded"):
        pt.pos(1, 0)


def test_ocr_split_chapter_line_and_running_header_leftovers():
    pages = [mkpage("o", 1, [("Chapter", 21.6, False), ("2 Cells and Tissues", 21.6, False), *para("a", 6, 15.5),
                             ("2.1 Cell Structure", 13.0, False), *para("b", 6, 16.0)], method="ocr"),
             mkpage("o", 2, [("Chapter 2 Cells and Tissues", 9.0, False), *para("c", 6, 16.0),  # header: small
                             ("2.2 Membranes", 15.0, False), *para("d", 6, 15.8)], method="ocr"),
             mkpage("o", 3, [("Chapter 2  Cells and Tissues", BODY, False), *para("e", 6),  # header: same title
                             ("Figure 2.3 is smaller", 8.5, True), ("2.3 Transport", 14, True), *para("f", 4)])]
    hs = detect_headings([page_lines(p) for p in pages])
    assert [(h.page, h.level, h.title) for h in hs] == [(0, 1, "Chapter 2 Cells and Tissues"), (0, 2, "2.1 Cell Structure"),
                                                        (1, 2, "2.2 Membranes"), (2, 2, "2.3 Transport")]
    assert hs[0].offset == 0


# ---- end to end: real PDFs through tutorforge.pdf.ingest, then segment ------------------------------------------------------

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
        subprocess.run([sys.executable, str(root / "scripts" / "build_corpus.py"), "--output", str(pdfs),
                        "--truth-dir", str(pdfs)], check=True, capture_output=True)
        manifest = pdfs / "corpus_manifest.json"
    from tutorforge.core.config import load_config
    from tutorforge.core.ids import sha256_file
    done = root / "artifacts" / "ingest"
    if (done / "pages.jsonl").exists() and (done / "documents.jsonl").exists() and \
            {d["file"]: d["sha256"] for d in read_jsonl(done / "documents.jsonl")} == \
            {p.name: sha256_file(p) for p in pdfs.glob("*.pdf")}:  # the pipeline's ingest of these very PDFs
        res = {"pages": list(read_jsonl(done / "pages.jsonl")), "documents": list(read_jsonl(done / "documents.jsonl"))}
    else:  # params.yaml's ingest section + the project's ingest cache (shared with `dvc repro` and the ingest tests)
        cfg = load_config(IngestConfig, "ingest", root / "params.yaml", input=str(pdfs),
                          cache_dir=str(root / ".cache" / "ingest"), output=str(tmp_path_factory.mktemp("ingest")))
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
        body = {p["page"] for p in res["pages"] if p["file"] == book["file"]} - set(toc) - set(drep["front_matter_pages"])
        assert body <= {s["page"] for r in secs for s in r["spans"]}, book["file"]  # OCR'd pages included
    assert_exact(recs, res["pages"])
