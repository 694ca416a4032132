"""index: sections -> page-bounded text chunks embedded with MiniLM in a FAISS index (what the tutor retrieves and cites).

    python -m stages.index                                              # params.yaml [index]
    python -m stages.index -S index.input=/tmp/segment/sections.jsonl -S index.pages=/tmp/ingest/pages.jsonl \
        -S index.output=/tmp/index
    dvc repro --single-item index

Reads `index.input` (segment's sections.jsonl) and `index.pages` (ingest's pages.jsonl, for printed page labels),
writes chunks.jsonl, index.faiss, manifest.json (each file's sha256, the encoder's digest) and report.json (DVC
metrics) into `index.output`, replaced as a whole (core/outputs.py): bad or missing input fails the stage and leaves
the previous index as it was. tutorforge/retrieval/store.py loads and searches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.retrieval.build import IndexConfig, build_index

SECTION = "index"
OUTPUTS = ("chunks.jsonl", "index.faiss", "manifest.json", "report.json")
log = get_logger("index")


def run(cfg: IndexConfig) -> dict[str, Any]:
    """Build the index of cfg.input into cfg.output; returns the report."""
    for path, hint in ((cfg.input, "segment"), (cfg.pages, "ingest"), (cfg.segment_report, "segment")):
        if not Path(path).is_file():
            raise StageError(f"no file at {path} (run `python -m stages.{hint}` first)")
    with replace_outputs(cfg.output, OUTPUTS) as outs:  # all four or none; a failed run leaves the previous index
        try:
            report = build_index(cfg, outs)
        except (RecordError, ValueError, FileNotFoundError) as e:  # bad records, no sections, encoder not installed
            raise StageError(str(e)) from None
        write_json(outs / "report.json", report)
    log.info("wrote %d chunks (%s, %d dims) to %s", report["chunks"], report["embedder"], report["dim"], cfg.output)
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(IndexConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
