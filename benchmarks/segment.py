"""Benchmark: segment throughput on a long generated book, against the JSONL I/O floor measured in the same run.

    .venv/bin/python -m benchmarks.segment                  # 1000 pages, 40 chapters
    .venv/bin/python -m benchmarks.segment --pages 3000 --json /tmp/bench_segment.json

Generates one book as pages.jsonl records (ingest contract: text + per-line size/bold; chapter headings 20pt bold,
numbered sections 14pt bold, body 10.5pt, a contents page) and times, best of --repeat runs:
1. baseline: reading pages.jsonl + writing an equal amount of JSONL (what any stage pays),
2. `segment_document` with detected headings (file mapped to a subject),
3. the same driven by an outline (every heading located on its page),
4. the same with an unmapped file name (per-section keyword classifier).
Prints pages/s and each time as a ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path

from tutorforge.core.io import read_jsonl, write_jsonl
from tutorforge.segment.sections import SegmentConfig, segment_document
from tutorforge.segment.subjects import SubjectClassifier

ROOT = Path(__file__).resolve().parent.parent


def make_book(n_pages: int, chapters: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    vocab = (
        "cell membrane energy force atom reaction equation protein light wave acid graph the of and to in "
        "is by that with for as are from"
    ).split()
    pages, outline = [], []
    per_ch = max(1, (n_pages - 1) // chapters)
    for n in range(1, n_pages + 1):
        lines: list[tuple[str, float, bool]] = []
        if n == 1:
            lines = [("Contents", 20, True)] + [
                (f"Chapter {c} Topic {c} . . . . . . {c * per_ch}", 10.5, False)
                for c in range(1, min(chapters, 30) + 1)
            ]
        else:
            c, k = (n - 2) // per_ch + 1, (n - 2) % per_ch
            if k == 0:
                lines.append((f"Chapter {c}  Topic {c}", 20, True))
                outline.append({"level": 1, "title": f"Chapter {c}  Topic {c}", "page": n})
            if k % 2 == 0:
                lines.append((f"{c}.{k // 2 + 1} Section {k // 2 + 1}", 14, True))
                outline.append({"level": 2, "title": f"{c}.{k // 2 + 1} Section {k // 2 + 1}", "page": n})
            for _ in range(40):
                lines.append((" ".join(rng.choice(vocab) for _ in range(12)).capitalize() + ".", 10.5, False))
        text, recs, pos = [], [], 0
        for t, size, bold in lines:
            recs.append({"start": pos, "end": pos + len(t), "size": size, "bold": bold})
            text.append(t)
            pos += len(t) + 1
        body = "\n".join(text)
        pages.append(
            {
                "doc_id": "bench",
                "file": "biology_bench.pdf",
                "page": n,
                "page_label": str(n),
                "text": body,
                "method": "text",
                "ocr_confidence": None,
                "chars": len(body),
                "lines": recs,
            }
        )
    return pages, outline


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--chapters", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    pages, outline = make_book(args.pages, args.chapters)
    cfg = SegmentConfig()
    clf = SubjectClassifier(cfg.subjects, cfg.subject_keywords)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.jsonl"
        write_jsonl(path, pages)

        def io_floor() -> int:
            recs = list(read_jsonl(path))
            return write_jsonl(Path(tmp) / "out.jsonl", ({"text": r["text"]} for r in recs))

        t_io, _ = best(io_floor, args.repeat)
    doc = {"doc_id": "bench", "file": "biology_bench.pdf"}
    runs = {
        "headings": (doc, pages),
        "outline": (doc | {"outline": outline, "outline_status": "ok"}, pages),
        "headings_unmapped": (doc | {"file": "bench.pdf"}, [p | {"file": "bench.pdf"} for p in pages]),
    }
    res = {
        "pages": args.pages,
        "chars": sum(len(p["text"]) for p in pages),
        "io_floor_s": round(t_io, 4),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"{args.pages} pages, {res['chars'] / 1e6:.1f} M chars; JSONL read+write floor {t_io:.3f}s")
    for name, (d, pg) in runs.items():
        t, (recs, rep) = best(lambda d=d, pg=pg: segment_document(d, pg, cfg, clf), args.repeat)
        res[name] = {
            "seconds": round(t, 4),
            "pages_per_s": round(args.pages / t, 1),
            "ratio_to_io": round(t / t_io, 2),
            "sections": len(recs),
        }
        print(
            f"{name:>18}: {t:.3f}s  {args.pages / t:8.0f} pages/s  {t / t_io:5.2f}x the I/O floor  "
            f"{len(recs)} sections, method {rep['method']}, toc pages {rep['toc_pages']}"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
