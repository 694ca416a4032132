"""Segment building blocks: heading numbering/font patterns, contents pages, title location, page-text spans and
subjects (tutorforge.segment.headings / pagetext / subjects)."""

from __future__ import annotations

import pytest

from tests.support.pages import BODY, heading_book, mkpage, para
from tutorforge.segment.headings import detect_headings, is_toc_page, locate_title, page_lines
from tutorforge.segment.sections import SegmentConfig
from tutorforge.segment.subjects import SubjectClassifier, map_subject


@pytest.mark.parametrize(
    "line,size,bold,level",
    [
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
    ],
)
def test_numbering_and_font_patterns(line, size, bold, level):
    ctx = [("Chapter 4  Context", 20, True), ("4.1 Styled Heading", 14, True)]
    lines = page_lines(mkpage("p", 1, [*ctx, *para("x", 8), (line, size, bold), *para("y", 8)]))
    hs = [h for h in detect_headings([lines]) if h.offset == lines[10].start]
    assert [h.level for h in hs] == ([level] if level else [])


def test_ocr_pages_numbering_without_bold_and_unstyled_book():
    ocr = [
        mkpage(
            "o",
            1,
            [
                ("CHAPTER 2  Cells and Tissues", 22.0, False),
                *para("a", 6, 9.6),
                ("2.1 Cell Structure", 11.9, False),
                *para("b", 6, 10.2),
                ("2. 2 Membranes", 10.1, False),
                *para("c", 6, 9.9),
            ],
            method="ocr",
        )
    ]
    hs = detect_headings([page_lines(p) for p in ocr])
    assert [(h.level, h.title) for h in hs] == [
        (1, "CHAPTER 2 Cells and Tissues"),
        (2, "2.1 Cell Structure"),
        (2, "2. 2 Membranes"),
    ]
    # a book without any font info: numbering alone carries it
    plain = [
        mkpage(
            "n",
            1,
            [
                ("Chapter 1 Numbers", None, False),
                *para("a", 4, None),
                ("1.1 Integers", None, False),
                *para("b", 4, None),
                ("1.1 Integers again goes backwards", None, False),
            ],
        )
    ]
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
    table = mkpage(
        "t",
        2,
        [
            ("Table 3 Boiling points", 12, True),
            *[(f"Substance {i} boils at {i * 10}", BODY, False) for i in range(3)],
            *para("text", 6),
        ],
    )
    assert not is_toc_page(page_lines(table))


def test_locate_title_variants():
    lines = page_lines(
        mkpage(
            "l",
            1,
            [
                *para("intro", 2),
                ("Chapter 3", 20, True),
                ("The Atom", 20, True),
                *para("body", 2),
                ("3.1 Electr0n She11s", 14, False),
                *para("z", 2),
            ],
        )
    )
    assert locate_title("The Atom", lines) == lines[2].start  # bare "Chapter 3" above joins
    assert locate_title("3.1 Electron Shells", lines) == lines[6].start
    assert locate_title("Nuclear Fission", lines) is None
    assert locate_title("The Atom", lines, min_offset=lines[4].start) is None


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
        "Energy of a cell: mitochondria turn glucose into energy, a force for life."
    )
    assert subject == "unknown" and 0 < conf < 0.99
    counts = clf.counts("Cells and cellular tissues; a reaction of ions. Organic chemistry!")
    assert counts["cell"] == 2 and counts["tissue"] == 1 and counts["ion"] == 1 and counts["organic chemistry"] == 1
    with pytest.raises(ValueError, match="unknown subject"):
        SubjectClassifier(cfg.subjects, {"history": ["war"]})
    with pytest.raises(ValueError, match="not in subjects"):
        SegmentConfig(subject_map={"*": "history"})


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
    pages = [
        mkpage(
            "o",
            1,
            [
                ("Chapter", 21.6, False),
                ("2 Cells and Tissues", 21.6, False),
                *para("a", 6, 15.5),
                ("2.1 Cell Structure", 13.0, False),
                *para("b", 6, 16.0),
            ],
            method="ocr",
        ),
        mkpage(
            "o",
            2,
            [
                ("Chapter 2 Cells and Tissues", 9.0, False),
                *para("c", 6, 16.0),  # header: small
                ("2.2 Membranes", 15.0, False),
                *para("d", 6, 15.8),
            ],
            method="ocr",
        ),
        mkpage(
            "o",
            3,
            [
                ("Chapter 2  Cells and Tissues", BODY, False),
                *para("e", 6),  # header: same title
                ("Figure 2.3 is smaller", 8.5, True),
                ("2.3 Transport", 14, True),
                *para("f", 4),
            ],
        ),
    ]
    hs = detect_headings([page_lines(p) for p in pages])
    assert [(h.page, h.level, h.title) for h in hs] == [
        (0, 1, "Chapter 2 Cells and Tissues"),
        (0, 2, "2.1 Cell Structure"),
        (1, 2, "2.2 Membranes"),
        (2, 2, "2.3 Transport"),
    ]
    assert hs[0].offset == 0
