"""Subject classification by likelihood: rank the subject names by how likely a model finds "Subject: <name>" after a
section's text, against the teachers' labels (artifacts/annotations/labels.jsonl).

    items, note = labeled_sections("artifacts/annotations/labels.jsonl", "artifacts/segment/sections.jsonl",
                                   ["biology", "chemistry", "physics", "mathematics"])
    items[0]   # {"section_id": "1b7729d90d9c44b8", "subject": "chemistry", "text": "Acids and Alkalis ..."}
    tasks = subject_tasks(tok, items, subjects, text_tokens=256, max_len=512)
    # scored with lmscore, ranked with choices.rank_options -> subject_top1 / subject_top3

A label record is {section_id, subject, ...} (written by the annotations stage); a label whose subject is not in
`subjects` ("unknown") or whose section is not in sections.jsonl is left out. No labels file, or no usable label,
gives no items and a one-line note saying why (the metric is then left out of metrics.json, never reported as 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import RecordError, read_jsonl
from tutorforge.core.records import read_records

PROMPT = "\nSubject:"


def labeled_sections(
    labels: str | Path, sections: str | Path, subjects: list[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """(labeled sections {section_id, subject, text} in label-file order, a note when there are none)."""
    if not Path(labels).is_file():
        return [], f"subject classification skipped: no teachers' labels at {labels}"
    rows = list(read_jsonl(labels))
    for n, row in enumerate(rows, 1):
        if not (
            isinstance(row, dict) and isinstance(row.get("section_id"), str) and isinstance(row.get("subject"), str)
        ):
            raise RecordError(f"{labels}: record {n}: a label needs string section_id and subject")
    usable = [r for r in rows if r["subject"] in subjects]
    if not usable:
        return [], f"subject classification skipped: {labels} holds no label with a subject in {subjects}"
    if not Path(sections).is_file():
        return [], f"subject classification skipped: no sections file {sections} for the {len(usable)} labels"
    text = {s["section_id"]: s["text"] for s in read_records(sections, "section")}
    items = [{"section_id": r["section_id"], "subject": r["subject"], "text": text[r["section_id"]]}
             for r in usable if r["section_id"] in text]  # fmt: skip
    if not items:
        return [], f"subject classification skipped: none of the labeled sections is in {sections}"
    return items, None


def subject_tasks(
    tok: Any, items: list[dict[str, Any]], subjects: list[str], text_tokens: int, max_len: int
) -> list[dict[str, Any]]:
    """One likelihood task per labeled section: the first `text_tokens` tokens of its text, then "Subject:", with
    each " <name>" as an option; answer = the label's index in `subjects`."""
    from tutorforge.eval.lmscore import encode, fit

    tasks = []
    for it in items:
        prompt = encode(tok, it["text"])[:text_tokens] + encode(tok, PROMPT)
        tasks.append(
            {
                "subject": it["subject"],
                "answer": subjects.index(it["subject"]),
                "options": [fit(prompt, encode(tok, f" {name}"), max_len) for name in subjects],
                "char_lens": [len(name) for name in subjects],
            }
        )
    return tasks
