"""The markup of the bundled corpus sources (data/sources/<book>.md): front matter + blocks, parsed in source order.

    meta, blocks = parse_source(Path("data/sources/biology.md").read_text(encoding="utf-8"))
    meta["title"] -> "Exploring Biology";  blocks[0] -> ("h", 1, "Chapter 1  Cells and Tissues")

Source markup (one file per book, UTF-8):

    ---                                   front matter, `key: value` lines:
    title: Exploring Biology                book title (title page + running header)
    subject: biology                        subject tag
    outline: yes|no                         embed a PDF outline (doc.set_toc) from the headings
    toc_page: yes|no                        print a "Contents" page with dotted leaders after the title page
    page_labels: yes|no                     roman labels (i, ii) for front matter, arabic from 1 for the body
    scan_pages: 4, 9                        PHYSICAL 1-based pages to turn into image-only scans (200 dpi gray);
                                            these pages must hold no figure or table (the builder checks)
    ---
    # Chapter 2  Cells and Tissues          chapter: new page, 20 pt bold; also the right running header
    ## 2.3 The Cell Membrane                section heading, 14 pt bold
    ### Key words                           sub-heading, 11.5 pt bold
    Plain lines                             paragraph text (consecutive lines join; blank line ends it), 10.5 pt
    **bold words**                          bold run inside a paragraph
    photo~synthesis                         allowed hyphenation point: if the word overflows the line it is split
                                            there as "photo-" / "synthesis"; otherwise the ~ is dropped
    ﬁ ﬂ                                     ligature characters are kept as written (U+FB01, U+FB02)
    $$ F = m × a $$                         display formula: its own centred line, Times italic 11.5 pt
    > Worked example 3.1 ...                boxed worked example (each "> " line is one paragraph of the box;
                                            the first line is set in bold)
    - item                                  bullet list item
    [figure: Caption text | shape]          vector figure (shapes: tutorforge.corpus.figures.FIGURES) captioned
                                            "Figure C.N: Caption"
    [table: Caption text]                   table: following lines "a | b | c" (first row = header) until [/table];
    ...                                     captioned "Table C.N: Caption"
    [/table]
    [pagebreak]                             start a new page

Blocks are tuples: ("h", level, title), ("p", text), ("li", text), ("formula", text), ("example", [lines]),
("figure", caption, spec), ("table", caption, rows), ("pagebreak",).
"""

from __future__ import annotations

import re


def parse_source(text: str) -> tuple[dict[str, str], list[tuple]]:
    """-> (front matter dict, blocks). Blocks: (kind, ...) tuples in source order."""
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not m:
        raise ValueError("source must start with a --- front matter block ---")
    meta = dict(line.split(":", 1) for line in m.group(1).splitlines() if line.strip())
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    blocks: list[tuple] = []
    para: list[str] = []
    kind = "p"

    def end_para() -> None:
        nonlocal para, kind
        if para:
            blocks.append((kind, " ".join(para)))
        para, kind = [], "p"

    lines = text[m.end() :].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if not line.strip():
            end_para()
        elif line.startswith("#"):
            end_para()
            hashes, _, title = line.partition(" ")
            blocks.append(("h", len(hashes), title.strip()))
        elif line.startswith("$$"):
            end_para()
            blocks.append(("formula", line.strip("$ ").strip()))
        elif line.startswith("> "):
            end_para()
            ex = [line[2:].strip()]
            while i < len(lines) and lines[i].startswith("> "):
                ex.append(lines[i][2:].strip())
                i += 1
            blocks.append(("example", ex))
        elif line.startswith("- "):
            end_para()
            para, kind = [line[2:].strip()], "li"
        elif line.startswith("[figure:"):
            end_para()
            cap, _, spec = line[len("[figure:") :].rstrip("]").partition("|")
            blocks.append(("figure", cap.strip(), spec.strip()))
        elif line.startswith("[table:"):
            end_para()
            cap = line[len("[table:") :].rstrip("]").strip()
            rows = []
            while lines[i].strip() != "[/table]":
                rows.append([c.strip() for c in lines[i].split("|")])
                i += 1
            i += 1
            blocks.append(("table", cap, rows))
        elif line.strip() == "[pagebreak]":
            end_para()
            blocks.append(("pagebreak",))
        else:
            para.append(line.strip())
    end_para()
    return meta, blocks


def flag(meta: dict[str, str], key: str) -> bool:
    """A yes/no front-matter key (absent = no)."""
    return meta.get(key, "no").lower() in ("yes", "true", "1")


def scan_pages(meta: dict[str, str]) -> list[int]:
    """The `scan_pages` front-matter key as a list of physical 1-based page numbers ([] when absent)."""
    return [int(s) for s in meta.get("scan_pages", "").replace(" ", "").split(",") if s]
