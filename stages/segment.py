"""segment: pages -> sections (chapters and numbered sections) with exact page spans and a subject.

    python -m stages.segment                                             # params.yaml [segment]
    python -m stages.segment -S segment.input=/tmp/ingest -S segment.output=/tmp/segment
    python -m stages.segment -S segment.input=/tmp/ingest/pages.jsonl -S segment.front_matter=section
    dvc repro --single-item segment

Reads `segment.input` (the ingest output dir, or a pages.jsonl with documents.jsonl beside it), segments every
document (tutorforge/segment/sections.py) and writes into `segment.output`: sections.jsonl and report.json (DVC
metrics), replaced together (core/outputs.py); bad or missing input fails the stage and leaves the previous outputs
as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import read_jsonl, write_json
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError, check_records, read_records, write_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.segment.sections import SegmentConfig, segment_records

SECTION = "segment"
OUTPUTS = ("sections.jsonl", "report.json")
log = get_logger("segment")


def read_inputs(cfg: SegmentConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pages, documents) of cfg.input, checked against their contracts (documents.jsonl may be absent)."""
    src = Path(cfg.input)
    pages_path = src / "pages.jsonl" if src.is_dir() else src
    if not pages_path.is_file():
        raise StageError(f"no pages file at {pages_path} (run `python -m stages.ingest` first)")
    try:
        pages = list(read_jsonl(pages_path))
    except RecordError as e:  # a line that is not JSON
        raise StageError(str(e)) from None
    if not pages:
        raise StageError(f"{cfg.input} holds no pages (did ingest quarantine every PDF?)")
    for n, pg in enumerate(pages, 1):  # what segmenting cannot do without, in one line, before the full contract
        missing = [k for k in ("doc_id", "file", "page", "text") if k not in pg]
        if missing:
            raise StageError(f"{pages_path}: record {n} lacks {missing}")
    docs_path = pages_path.parent / "documents.jsonl"
    try:
        check_records(pages, "page", pages_path)
        docs = read_records(docs_path, "document") if docs_path.is_file() else []
    except RecordError as e:
        raise StageError(str(e)) from None
    return pages, docs


def run(cfg: SegmentConfig) -> dict[str, Any]:
    """Segment cfg.input and write the outputs; returns the report."""
    pages, docs = read_inputs(cfg)
    records, report = segment_records(pages, docs, cfg)
    with replace_outputs(cfg.output, OUTPUTS) as outs:  # both or neither; a failed run leaves the previous outputs
        write_records(outs / "sections.jsonl", records, "section")
        write_json(outs / "report.json", report)
    log.info("wrote %d sections to %s/sections.jsonl", len(records), cfg.output)
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(SegmentConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
