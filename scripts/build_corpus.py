"""Build the bundled sample corpus: data/sources/<book>.md -> data/textbooks/<book>.pdf (PyMuPDF only).

    .venv/bin/python scripts/build_corpus.py                       # data/sources -> data/textbooks
    .venv/bin/python scripts/build_corpus.py --sources data/sources --output /tmp/tb --truth-dir /tmp/tb

Also writes (into --truth-dir, default: the sources dir) scan_truth.json and corpus_manifest.json. Deterministic:
byte-identical PDFs on every run (tests/test_corpus.py checks the committed ones). The builder is
tutorforge.corpus.build; the source markup is documented in tutorforge.corpus.markup.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tutorforge.corpus.build import build_corpus

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=Path, default=ROOT / "data" / "sources")
    ap.add_argument("--output", type=Path, default=ROOT / "data" / "textbooks")
    ap.add_argument(
        "--truth-dir",
        type=Path,
        default=None,
        help="where scan_truth.json / corpus_manifest.json go (default: --sources)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        build_corpus(args.sources, args.output, args.truth_dir or args.sources)
    except FileNotFoundError as e:
        print(f"build_corpus: error: {e}", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
