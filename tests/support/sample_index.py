"""The bundled sample books through the real ingest, segment and index stages, into a scratch folder.

out = build_sample_index(tmp / "sample")   # out/ingest, out/segment, out/index (python -m stages.<name> each)
"""

from __future__ import annotations

from pathlib import Path

from tests.support.stage_process import run_stage

ROOT = Path(__file__).resolve().parent.parent.parent


def index_args(out: Path, sections: Path, ingest: Path, segment: Path) -> list[str]:
    """`-S` arguments of `python -m stages.index` on the given inputs."""
    pairs = [
        f"index.input={sections}",
        f"index.pages={ingest / 'pages.jsonl'}",
        f"index.segment_report={segment / 'report.json'}",
        f"index.output={out}",
    ]
    return [a for kv in pairs for a in ("-S", kv)]


def build_sample_index(out: Path) -> Path:
    """Run ingest -> segment -> index on data/textbooks with outputs under `out`; returns `out`."""
    ingest, segment = out / "ingest", out / "segment"
    runs = (
        (
            "ingest",
            [
                "-S",
                f"ingest.input={ROOT / 'data' / 'textbooks'}",
                "-S",
                f"ingest.output={ingest}",
                "-S",
                "ingest.cache_dir=",
            ],
        ),
        ("segment", ["-S", f"segment.input={ingest}", "-S", f"segment.output={segment}"]),
        ("index", index_args(out / "index", segment / "sections.jsonl", ingest, segment)),
    )
    for stage, args in runs:
        proc = run_stage(ROOT, stage, *args)
        assert proc.returncode == 0, (stage, proc.stderr[-3000:])
    return out
