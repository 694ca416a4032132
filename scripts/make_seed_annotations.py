"""Hand-written teacher annotations (YAML) + segmented sections -> a Label Studio JSON export snapshot.

    .venv/bin/python scripts/make_seed_annotations.py            # data/sources/seed_annotations.yaml -> data/annotations/seed_export.json
    .venv/bin/python scripts/make_seed_annotations.py --sections artifacts/segment/sections.jsonl --check

The YAML holds real content written for the sample books, keyed by book file + section heading (the last element of
the section's heading path, compared case/space/punctuation-insensitively; `heading` may also be a full
"Chapter > Section" path). Each item may carry `label` (subject + difficulty), `qa`, `socratic` and `review`
entries; any entry may list `also:` extra annotations by other teachers (deliberate disagreements) and
`cancelled: true` ones. Output: exactly Label Studio's JSON export shape (`tutorforge.labelstudio.export_builder`), with
stable task ids, external ids, annotator ids and timestamps, so re-running gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from pathlib import Path

import yaml

from tutorforge.core.io import atomic_open, read_jsonl
from tutorforge.labelstudio import export_builder as eb
from tutorforge.labelstudio.schema import heading_of, project_kinds, section_task_data

ROOT = Path(__file__).resolve().parent.parent

PROJECTS = {name: i for i, name in enumerate(project_kinds(), 1)}  # project id per kind (as on a fresh server)


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.lower()))


def find_section(sections: list[dict], file: str, heading: str) -> dict:
    """The first section (reading order) of `file` whose heading (last path element or full path) matches."""
    want = _norm(heading)
    same_file = [s for s in sections if Path(s["file"]).name == file]
    if not same_file:
        raise SystemExit(f"no sections for file {file!r}; files: {sorted({Path(s['file']).name for s in sections})}")
    bare = re.sub(r"^[\d ]+", "", want)  # without the section number
    for test in (
        lambda s: _norm(s["heading_path"][-1]) == want,
        lambda s: _norm(heading_of(s)) == want,
        lambda s: re.sub(r"^[\d ]+", "", _norm(s["heading_path"][-1])) == bare,
        lambda s: difflib.SequenceMatcher(None, _norm(s["heading_path"][-1]), want).ratio() >= 0.85,
    ):
        hits = sorted((s for s in same_file if test(s)), key=lambda s: (s["page_start"], s["section_id"]))
        if hits:
            return hits[0]
    raise SystemExit(
        f"{file}: no section heading matches {heading!r}; headings: {[s['heading_path'][-1] for s in same_file]}"
    )


def build(spec: dict, sections: list[dict]) -> list[dict]:
    tasks: list[dict] = []
    ann_id = 1
    minute = 0.0
    inner: dict[int, int] = {}
    for item in spec["items"]:
        sec = find_section(sections, item["file"], item["heading"])
        entries = []
        if "label" in item:
            entries.append(("section_label", item["label"]))
        entries += [("qa", e) for e in item.get("qa", [])]
        entries += [("socratic", e) for e in item.get("socratic", [])]
        entries += [("review", e) for e in item.get("review", [])]
        for variant, (kind, entry) in enumerate(entries):
            project = PROJECTS[kind]
            tid = len(tasks) + 1
            inner[project] = inner.get(project, 0) + 1
            extra = {}
            if kind == "review":
                extra = {
                    "question": entry["question"],
                    "model_answer": entry["model_answer"],
                    "example_id": entry.get("example_id") or f"seed-model-{tid}",
                }
            data = section_task_data(kind, sec, variant, **extra)
            anns = []
            for k, a in enumerate([entry, *entry.get("also", [])]):
                payload = {**entry, **a} if k else entry
                minute += float(a.get("after_minutes", 7))
                lead = float(a.get("lead_time", 30 + 11 * (len(str(payload)) % 17)))
                anns.append(
                    eb.annotation(
                        ann_id,
                        tid,
                        int(a.get("by", 1 + tid % 3)),
                        eb.results(kind, payload, f"seed-{tid}-{k}"),
                        minute,
                        lead,
                        project,
                        cancelled=bool(a.get("cancelled")),
                        ground_truth=bool(a.get("ground_truth")),
                    )
                )
                ann_id += 1
            preds = []
            if kind == "review":  # the model output being reviewed, as Label Studio shows it
                preds = [eb.prediction(tid, tid, [], minute - 60, project, score=0.5)]
            tasks.append(eb.task(tid, inner[project], data, anns, project, minute - 120, preds))
    return tasks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spec", default="data/sources/seed_annotations.yaml")
    p.add_argument("--sections", default="artifacts/segment/sections.jsonl")
    p.add_argument("--output", default="data/annotations/seed_export.json")
    p.add_argument("--check", action="store_true", help="only verify that every item matches a section")
    a = p.parse_args(argv)
    spec = yaml.safe_load(Path(a.spec).read_text(encoding="utf-8"))
    sections = list(read_jsonl(a.sections))
    tasks = build(spec, sections)
    kinds = {}
    for t in tasks:
        kinds[t["data"]["kind"]] = kinds.get(t["data"]["kind"], 0) + 1
    multi = sum(t["total_annotations"] > 1 for t in tasks)
    for t in tasks:  # answerability: most content words of an answer should occur in the section text
        d = t["data"]
        for ann in t["annotations"]:
            for r in ann["result"]:
                if r["from_name"] in ("answer", "edited_answer"):
                    words = {w for w in _norm(r["value"]["text"][0]).split() if len(w) > 3}
                    hit = len(words & set(_norm(d["text"]).split())) / max(1, len(words))
                    if len(words) >= 3 and hit < 0.5:
                        print(
                            f"  check: {d['file']} / {d['heading']}: only {hit:.0%} of the answer's words are in "
                            f"the section text ({r['value']['text'][0][:60]!r}...)"
                        )
    print(
        f"{len(tasks)} tasks {kinds}, {sum(len(t['annotations']) for t in tasks)} annotations, "
        f"{multi} with several annotators, over {len({t['data']['section_id'] for t in tasks})} sections"
    )
    if not a.check:
        with atomic_open(a.output) as f:
            f.write(json.dumps(tasks, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
