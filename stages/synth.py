"""synth: sections -> synthetic instruction examples (rule-based, optionally a teacher LM), filtered, with provenance.

    python -m stages.synth                                               # params.yaml [synth]; offline, ~seconds
    python -m stages.synth -S synth.input=/tmp/segment/sections.jsonl -S synth.output=/tmp/synth
    python -m stages.synth -S synth.teacher.backend=hf -S synth.teacher.model=smollm2     # + a local HF causal LM
    TUTORFORGE_TEACHER_BASE_URL=http://gpu-box:8000/v1 TUTORFORGE_TEACHER_API_KEY=... python -m stages.synth \
        -S synth.teacher.backend=openai -S synth.teacher.model=Qwen/Qwen2.5-7B-Instruct      # a vLLM endpoint
    dvc repro --single-item synth

Reads the section records of `synth.input`, generates and filters examples (tutorforge/synth/generate.py) and writes
into `synth.output`, replaced together (core/outputs.py): examples.jsonl (example records), rejected.jsonl (each
reject with its filter and reason) and report.json (DVC metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.ids import sha256_file
from tutorforge.core.io import read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError, check_records, write_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.synth.generate import SynthConfig, synthesize

SECTION = "synth"
OUTPUTS = ("examples.jsonl", "rejected.jsonl", "report.json")
log = get_logger("stages.synth")


def read_sections(path: str) -> list[dict[str, Any]]:
    """The section records of `path` (section contract)."""
    if not Path(path).is_file():
        raise StageError(f"input {path} not found (run the segment stage first)")
    try:
        sections = list(read_jsonl(path))
    except RecordError as e:  # a line that is not JSON
        raise StageError(str(e)) from None
    if not sections:  # would replace the previous examples with none
        raise StageError(f"{path} holds no sections (previous outputs left untouched)")
    missing = [i for i, s in enumerate(sections, 1) if not {"section_id", "text"} <= set(s)]
    if missing:  # what every generator needs, in one line, before the full contract
        raise StageError(f"{path}: record(s) {missing[:5]} lack section_id/text")
    try:
        check_records(sections, "section", path)
    except RecordError as e:
        raise StageError(str(e)) from None
    return sections


def run(cfg: SynthConfig) -> dict[str, Any]:
    """Generate and filter examples for the sections of cfg.input and write the outputs; returns the report."""
    sections = read_sections(cfg.input)
    log.info("synth: %d sections from %s -> %s", len(sections), cfg.input, cfg.output)
    kept, rejected, report = synthesize(sections, cfg)
    report["input_sha256"] = sha256_file(cfg.input)
    with replace_outputs(cfg.output, OUTPUTS) as outs:  # as a whole; DVC's .gitignore there is kept
        write_records(outs / "examples.jsonl", kept, "example")
        write_jsonl(outs / "rejected.jsonl", rejected)
        write_json(outs / "report.json", report)
    log.info("synth: wrote %s (%s)", cfg.output, ", ".join(f"{k}={v}" for k, v in report["kept_by_kind"].items()))
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(SynthConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
