"""The records that cross stage boundaries, as typed structures checked where a stage reads or writes them.

    page      artifacts/ingest/pages.jsonl        one cleaned PDF page
    document  artifacts/ingest/documents.jsonl    one PDF (outline, labels, title)
    section   artifacts/segment/sections.jsonl    a chapter/section with exact page spans and a subject
    example   synth / annotations / dataset sft   a chat example (messages + kind + provenance)
    text      dataset pretrain splits             a pretraining document

    write_records(out / "sections.jsonl", records, "section")     # checked, then written atomically
    sections = read_records("artifacts/segment/sections.jsonl", "section")

A record that breaks its contract raises RecordError naming the file, the record number and the field:
`artifacts/segment/sections.jsonl: record 12: spans.0.page: Input should be a valid integer (got '2')`. Checks are
strict (no "2" for 2, no true for 1); extra fields are allowed (stages may add their own); what is written is the
record as given, so checking never changes a byte of the output. A line that is not JSON is a RecordError too
(`artifacts/segment/sections.jsonl:12: invalid JSON line (...)`, raised by tutorforge/core/io.py, where the class
lives).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from tutorforge.core.io import RecordError, read_jsonl, write_jsonl

STRICT = ConfigDict(strict=True)


@with_config(STRICT)
class Line(TypedDict):
    """A text line of a page: char offsets into the page text, font size and weight (None after OCR)."""

    start: int
    end: int
    size: NotRequired[float | None]
    bold: NotRequired[bool | None]


@with_config(STRICT)
class Page(TypedDict):
    doc_id: str
    file: str
    page: int
    page_label: str
    text: str
    method: Literal["text", "ocr"]
    ocr_confidence: float | None
    chars: int
    lines: NotRequired[list[Line]]


@with_config(STRICT)
class OutlineEntry(TypedDict):
    level: int
    title: str
    page: int | None


@with_config(STRICT)
class Document(TypedDict):
    doc_id: str
    file: str
    sha256: str
    n_pages: int
    outline: list[OutlineEntry]
    outline_status: str
    page_labels: bool
    title: str | None


@with_config(STRICT)
class Span(TypedDict):
    page: int
    start: int
    end: int


@with_config(STRICT)
class Section(TypedDict):
    section_id: str
    doc_id: str
    file: str
    chapter: str
    heading_path: list[str]
    level: int
    page_start: int
    page_end: int
    subject: str
    subject_confidence: float
    subject_source: str
    text: str
    spans: list[Span]
    n_chars: int
    method: str
    part: int
    n_parts: int


@with_config(STRICT)
class Message(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: NotRequired[list[dict[str, Any]]]
    name: NotRequired[str]
    tool_call_id: NotRequired[str]


@with_config(STRICT)
class Example(TypedDict):
    example_id: str
    kind: str
    section_id: str
    messages: list[Message]
    subject: NotRequired[str | None]
    source: NotRequired[str]
    meta: NotRequired[dict[str, Any]]
    provenance: NotRequired[dict[str, Any]]


@with_config(STRICT)
class Text(TypedDict):
    section_id: str
    doc_id: str
    subject: str | None
    text: str


OPTION_LETTERS = "ABCDEFGH"


def mc_prompt(question: str, options: list[str]) -> str:
    """A multiple-choice question as every mc example and the benchmark show it: the options lettered A-D below it.

    mc_prompt("Which organelle ...?", ["the nucleus", "chloroplasts"])  # "Which organelle ...?\nA. the nucleus\nB. ..."
    """
    return question + "".join(f"\n{OPTION_LETTERS[i]}. {o}" for i, o in enumerate(options))


def mc_reply(options: list[str], answer_index: int) -> str:
    """The tutor's reply to an mc prompt: the right option's letter and words ("B. chloroplasts").

    Replying with the option's words alone (no letter first) was measured on the default run (issue 13, run 14): the
    frozen benchmark's MC accuracy did not rise (0.30 -> 0.275, both models at chance), so the reply keeps the letter
    a student is asked for.
    """
    return f"{OPTION_LETTERS[answer_index]}. {options[answer_index]}"


KINDS: dict[str, Any] = {"page": Page, "document": Document, "section": Section, "example": Example, "text": Text}
_ADAPTERS: dict[str, TypeAdapter] = {}


def check_records(records: list[dict[str, Any]], kind: str, source: str | Path = "records") -> None:
    """Raise RecordError on the first record of `records` that is not a valid `kind`."""
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(list[KINDS[kind]])  # type: ignore[valid-type]
    try:
        _ADAPTERS[kind].validate_python(records)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        index, *loc = err["loc"]
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        field = ".".join(str(p) for p in loc) or "(record)"
        raise RecordError(
            f"{source}: record {int(index) + 1}: {field}: {err['msg']}{shown} "
            f"[{kind} contract: tutorforge/core/records.py]"
        ) from None


def read_records(path: str | Path, kind: str) -> list[dict[str, Any]]:
    """All records of a JSONL file, checked against `kind` (a missing file is FileNotFoundError)."""
    records = list(read_jsonl(path))
    check_records(records, kind, path)
    return records


def write_records(path: str | Path, records: Iterable[dict[str, Any]], kind: str) -> int:
    """Check `records` against `kind`, then write them atomically as JSONL; returns the count."""
    records = list(records)
    check_records(records, kind, path)
    return write_jsonl(path, records)
