"""Label Studio export snapshots -> section labels + instruction examples (+ a report).

    labels, examples, report = build(AnnotationsConfig(), sorted(Path("data/annotations").glob("*.json")))
    python -m stages.annotations                                  # the stage (writes artifacts/annotations)

Reads every snapshot (Label Studio's own JSON export, unchanged), dedupes tasks by `data.external_id` (the newer
snapshot wins; a snapshot's age is its newest timestamp, then its file name), resolves several annotations of one
task (`conflict_rule`: latest | majority; ties -> latest; ground-truth annotations first), drops cancelled
annotations and rejected reviews, and matches each task to its section by `section_id` (optionally re-linking by
file + heading when a section id changed). Annotations whose section no longer exists are reported, never fatal. A
malformed export raises ExportError naming the file and the task before anything is returned, so the stage writes
nothing and the previous outputs stay byte-identical. An annotation whose text is longer than `max_text_chars` or
holds a chat-control token (`<|system|>`, `</s>`, ...: tutorforge/labelstudio/text_guard.py) is left out and
reported under `rejected_text` with its task id and the reason (the other annotations of the task still count; bad
text in a review task's own data leaves the whole task out): one teacher's bad text never fails the snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import PositiveInt, config_dict, section
from tutorforge.core.ids import sha256_file
from tutorforge.core.logs import get_logger, progress
from tutorforge.core.records import read_records
from tutorforge.labelstudio import export as ax
from tutorforge.labelstudio.schema import heading_of
from tutorforge.labelstudio.text_guard import TextRules

log = get_logger(__name__)


@section("annotations")
@dataclass
class AnnotationsConfig:
    input: str = "data/annotations"
    """Folder of Label Studio JSON export snapshots; every *.json in it is read (newer snapshot wins per task external
    id)."""
    sections: str = "artifacts/segment/sections.jsonl"
    """Sections the annotations refer to (matched by section_id)."""
    output_dir: str = "artifacts/annotations"
    """Where labels.jsonl, examples.jsonl and report.json go."""
    conflict_rule: str = "majority"
    """Several annotations on one task: 'latest' (newest updated_at) or 'majority' (most common answer; ties -> latest)."""
    prefer_ground_truth: bool = True
    """Annotations marked ground truth in Label Studio win before the conflict rule applies."""
    relink_by_heading: bool = True
    """If a task's section_id no longer exists, re-link it to the unique section with the same file + heading."""
    drop_socratic_leaks: bool = True
    """Drop Socratic dialogues whose tutor turns contain the withheld answer verbatim (reported either way)."""
    subjects: list[str] = field(default_factory=lambda: ["biology", "chemistry", "physics", "mathematics"])
    """Allowed subject labels (shared key)."""
    max_text_chars: PositiveInt = 20000
    """Longest annotator text (one text field) that may become training data; a longer one is left out and reported
    with its task id (report `rejected_text`)."""
    control_tokens: list[str] = field(default_factory=list)
    """Extra literal strings rejected in annotator text, besides the built-in chat-control patterns (<|…|>, <s>,
    </s>, [INST], ...): e.g. a base model's special tokens that look like none of those."""

    def __post_init__(self) -> None:
        if self.conflict_rule not in ("latest", "majority"):
            raise ValueError(f"annotations.conflict_rule: must be latest|majority, got {self.conflict_rule!r}")

    def text_rules(self) -> TextRules:
        """The limits on annotator text, as the snapshot parser takes them (shared with `tutorforge label pull`)."""
        return TextRules(self.max_text_chars, tuple(self.control_tokens))


def _load_sections(path: str | Path) -> tuple[dict[str, dict], dict[tuple[str | None, str | None], list[str]]]:
    by_id: dict[str, dict] = {}
    # keyed (file, heading); optional in a task's data, so lookups may carry None (which never matches)
    by_heading: dict[tuple[str | None, str | None], list[str]] = {}
    if not Path(path).exists():
        log.warning("sections file %s missing: every annotation will be reported as orphaned", path)
        return by_id, by_heading
    for s in read_records(path, "section"):  # RecordError (a line that is not JSON, a field missing) names the line
        by_id[s["section_id"]] = s
        by_heading.setdefault((s["file"], heading_of(s)), []).append(s["section_id"])
    return by_id, by_heading


def _rejection(t: ax.Task, annotation_id: int | None, reason: str | None) -> dict[str, Any]:
    return {
        "external_id": t.external_id,
        "task_id": t.task_id,
        "annotation_id": annotation_id,
        "snapshot": t.snapshot,
        "reason": reason,
    }


def build(cfg: AnnotationsConfig, files: Sequence[str | Path]) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Parse + validate all snapshots, then resolve tasks into (labels, examples, report). Raises ExportError."""
    rules = cfg.text_rules()
    snapshots = [ax.load_snapshot(f, rules) for f in progress(files, "validate snapshots", logger=log)]
    snapshots.sort(key=lambda s: (s.time, s.name))  # oldest first, so later ones overwrite
    tasks: dict[str, ax.Task] = {}
    superseded = 0
    for snap in snapshots:
        for t in snap.tasks:
            superseded += t.external_id in tasks
            tasks[t.external_id] = t
    sections, by_heading = _load_sections(cfg.sections)

    labels: dict[str, dict] = {}  # section_id -> label (the last resolved task per section wins, by external id order)
    examples: list[dict] = []
    rep: dict[str, Any] = {
        "orphans": [],
        "relinked": [],
        "disagreements": [],
        "rejected_reviews": [],
        "incomplete": [],
        "socratic_leaks": [],
        "invalid_labels": [],
        "rejected_text": [],
    }
    counts: Counter[str] = Counter()
    multi: list[dict] = []  # tasks with several live annotations (agreeing or not)
    ordered = [tasks[k] for k in sorted(tasks)]
    # Pass 1: labels (so that examples can take the annotated subject of their section).
    for t in progress(ordered, "resolve tasks", logger=log):
        counts[f"tasks_{t.kind}"] += 1
        counts["annotations_cancelled"] += t.n_cancelled
        if t.rejected:  # the task's own text (review question / model answer) is unfit: nothing of it is used
            rep["rejected_text"].append(_rejection(t, None, t.rejected))
            continue
        rep["rejected_text"] += [_rejection(t, a.id, a.rejected) for a in t.annotations if a.rejected]
        cands = [a for a in t.annotations if not a.cancelled and a.result and not a.rejected]
        counts["annotations_used_candidates"] += len(cands)
        if not cands:
            counts["tasks_unannotated"] += 1
            continue
        winner, how = ax.resolve(t.kind, cands, cfg.conflict_rule, cfg.prefer_ground_truth)
        if len(cands) > 1:
            multi.append(
                {
                    "external_id": t.external_id,
                    "task_id": t.task_id,
                    "n_annotations": len(cands),
                    "distinct_answers": len({ax.answer_key(t.kind, a) for a in cands}),
                    "resolved_by": how,
                    "winner_annotation_id": winner.id,
                }
            )
            if multi[-1]["distinct_answers"] > 1:
                rep["disagreements"].append(multi[-1])
        sid = t.data["section_id"]
        relinked_from = None
        if sid not in sections:
            cand_ids = by_heading.get((t.data.get("file"), t.data.get("heading")), [])
            if cfg.relink_by_heading and len(cand_ids) == 1:
                relinked_from, sid = sid, cand_ids[0]
                rep["relinked"].append({"external_id": t.external_id, "from": relinked_from, "to": sid})
            else:
                rep["orphans"].append(
                    {
                        "external_id": t.external_id,
                        "task_id": t.task_id,
                        "section_id": sid,
                        "file": t.data.get("file"),
                        "heading": t.data.get("heading"),
                        "snapshot": t.snapshot,
                    }
                )
                continue
        t.section_id, t.winner, t.how, t.n_candidates, t.relinked_from = sid, winner, how, len(cands), relinked_from
        if t.kind == "section_label":
            payload = ax.payload(t.kind, winner)
            if payload.get("subject") not in cfg.subjects or payload.get("difficulty") not in ax.DIFFICULTIES:
                rep["invalid_labels"].append({"external_id": t.external_id, **payload})
                continue
            labels[sid] = {"section_id": sid, "external_id": t.external_id, **payload, "provenance": ax.provenance(t)}
    for t in ordered:
        if t.kind == "section_label" or t.winner is None:
            continue
        assert t.section_id is not None  # set together with t.winner in pass 1 (data.section_id is a validated str)
        sec = sections[t.section_id]
        subject = labels.get(t.section_id, {}).get("subject") or sec.get("subject") or t.data.get("subject")
        made, problem = ax.to_examples(t, subject)
        if problem:
            rep[problem[0]].append(
                {
                    "external_id": t.external_id,
                    "task_id": t.task_id,
                    "reason": problem[1],
                    "reviewed_example_id": t.data.get("example_id"),
                }
            )
            if problem[0] != "socratic_leaks" or cfg.drop_socratic_leaks:
                continue
        examples.extend(made)
    examples.sort(key=lambda e: e["example_id"])
    per_annotator: dict[str, list[float]] = {}
    for t in ordered:
        for a in t.annotations:
            per_annotator.setdefault(str(a.annotator), []).append(a.lead_time or 0.0)
    label_list = [labels[k] for k in sorted(labels)]
    report = {
        "config": config_dict(cfg),
        "snapshots": [
            {"file": s.name, "sha256": sha256_file(s.path), "tasks": len(s.tasks), "time": s.time} for s in snapshots
        ],
        "tasks_total": len(tasks),
        "tasks_superseded": superseded,
        "labels": len(label_list),
        "examples": len(examples),
        "examples_by_kind": dict(sorted(Counter(e["kind"] for e in examples).items())),
        "examples_by_subject": dict(sorted(Counter(str(e["subject"]) for e in examples).items())),
        "counts": dict(sorted(counts.items())),
        "annotators": {
            k: {"annotations": len(v), "mean_lead_time_s": round(sum(v) / len(v), 1)}
            for k, v in sorted(per_annotator.items())
        },
        "multi_annotated_tasks": len(multi),
        "agreement_rate": round(sum(d["distinct_answers"] == 1 for d in multi) / len(multi), 4) if multi else None,
        **{k: v for k, v in rep.items()},
        **{f"n_{k}": len(v) for k, v in rep.items()},
    }
    return label_list, examples, report
