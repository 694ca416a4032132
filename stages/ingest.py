"""ingest: a folder of PDFs -> one cleaned JSONL record per page (text layer first, tesseract OCR where it is missing).

    python -m stages.ingest                                              # params.yaml [ingest]
    python -m stages.ingest -S ingest.input=some/pdfs -S ingest.output=/tmp/ingest -S ingest.workers=1
    python -m stages.ingest -S ingest.cache_dir=''                       # ignore the per-document cache
    dvc repro --single-item ingest

Writes into `ingest.output`: pages.jsonl, documents.jsonl, quarantine.json (bad files / skipped pages / ignored
outlines with their reasons) and report.json (DVC metrics), replaced together (core/outputs.py). With
`ingest.fail_on_bad_input: true` any quarantined input fails the stage and nothing is written.
"""

from __future__ import annotations

import sys
from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import write_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.pdf.ingest import IngestConfig, ingest, summary

SECTION = "ingest"
OUTPUTS = ("pages.jsonl", "documents.jsonl", "quarantine.json", "report.json")


def run(cfg: IngestConfig) -> dict[str, Any]:
    """Ingest cfg.input and write the outputs; returns the report."""
    try:
        res = ingest(cfg)
    except FileNotFoundError as e:
        raise StageError(str(e)) from None
    if cfg.fail_on_bad_input and res["quarantine"]:
        for q in res["quarantine"]:
            where = f"{q['file']} p.{q['page']}" if "page" in q else q["file"]
            print(f"ingest: bad input: {where}: {q['reason']}", file=sys.stderr)
        raise StageError(f"{len(res['quarantine'])} problem(s) and fail_on_bad_input is set: nothing written")
    with replace_outputs(cfg.output, OUTPUTS) as outs:
        write_records(outs / "pages.jsonl", res["pages"], "page")
        write_records(outs / "documents.jsonl", res["documents"], "document")
        write_json(outs / "quarantine.json", res["quarantine"])
        write_json(outs / "report.json", res["report"])
    print(summary(res["report"]))
    return res["report"]


def main(argv: list[str] | None = None) -> int:
    return stage_main(IngestConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
