"""Helpers for the annotations stage tests: a work folder with sections, the stage's CLI on it, snapshot files.

workdir = make_workdir(tmp_path)           # sections.jsonl (8 fixture sections) + an empty ann/ folder
save(workdir, "snap.json", tasks)          # a snapshot into ann/
report = run(workdir, "-S", "annotations.conflict_rule=latest")   # exit code 0 asserted; returns report.json
cli(workdir) == 1                          # the exit code, for the failure cases
"""

from __future__ import annotations

import json
from pathlib import Path

from stages import annotations as stage
from tutorforge.core.io import read_json, read_jsonl, write_jsonl
from tutorforge.corpus import synthetic_dataset as fx

OUTPUTS = ("labels.jsonl", "examples.jsonl", "report.json")


def make_workdir(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "sections.jsonl", fx.make_sections(8))
    (tmp_path / "ann").mkdir()
    return tmp_path


def cli(workdir: Path, *extra: str) -> int:
    return stage.main(
        [
            "-p",
            str(workdir / "none.yaml"),
            "-S",
            f"annotations.input={workdir / 'ann'}",
            "-S",
            f"annotations.sections={workdir / 'sections.jsonl'}",
            "-S",
            f"annotations.output_dir={workdir / 'out'}",
            *extra,
        ]
    )


def run(workdir: Path, *extra: str) -> dict:
    assert cli(workdir, *extra) == 0
    return read_json(workdir / "out" / "report.json")


def save(workdir: Path, name: str, tasks: list[dict]) -> Path:
    p = workdir / "ann" / name
    p.write_text(json.dumps(tasks, indent=2))
    return p


def sections(workdir: Path) -> list[dict]:
    return list(read_jsonl(workdir / "sections.jsonl"))
