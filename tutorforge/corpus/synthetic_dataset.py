"""Small deterministic inputs for tests of the annotations and dataset stages.

    from tutorforge.corpus import synthetic_dataset as fx
    sections = fx.make_sections(40); synth = fx.make_synth(sections)     # section / example records (their contracts)
    export = fx.make_export(sections[:4])  # one Label Studio task of each kind

Section texts are pseudo-words drawn from a seeded RNG, so distinct sections share (almost) no 5-word shingles or
13-grams, and planted overlaps are the only duplicates/contamination.
"""

from __future__ import annotations

import random

from tutorforge.core.ids import stable_id
from tutorforge.labelstudio import export_builder as eb
from tutorforge.labelstudio.schema import heading_of, section_task_data

SUBJECTS = ["biology", "chemistry", "physics", "mathematics"]


def _vocab(rng: random.Random, n: int = 4000) -> list[str]:
    syll = ["ka", "lo", "mi", "ner", "tu", "sa", "vi", "do", "ren", "pa", "qui", "zo", "mel", "tra", "fen", "gu"]
    return sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(n)})


def make_sections(n: int = 40, words: int = 160, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocab = _vocab(rng)
    out = []
    for i in range(n):
        doc = f"doc{i % 4}"
        heading_path = [f"Chapter {i // 8 + 1}", f"Section {i % 8 + 1}"]
        text = ". ".join(" ".join(rng.choice(vocab) for _ in range(12)) for _ in range(words // 12)) + "."
        sid = stable_id(doc, "\x1e".join(heading_path), 0)
        out.append(
            {
                "section_id": sid,
                "doc_id": doc,
                "file": f"book{i % 4}.pdf",
                "chapter": heading_path[0],
                "heading_path": heading_path,
                "level": len(heading_path),
                "page_start": i + 1,
                "page_end": i + 1,
                "subject": SUBJECTS[i % 4],
                "subject_confidence": 1.0,
                "subject_source": "map",
                "text": text,
                "spans": [{"page": i + 1, "start": 0, "end": len(text)}],
                "n_chars": len(text),
                "method": "headings",
                "part": 1,
                "n_parts": 1,
            }
        )
    return out


def example(section: dict, kind: str, user: str, assistant: str, source: str = "synth:template", **meta) -> dict:
    return {
        "example_id": stable_id(source, section["section_id"], kind, user),
        "kind": kind,
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        "subject": section["subject"],
        "section_id": section["section_id"],
        "source": source,
        "provenance": {"generator": source},
        "meta": meta,
    }


def make_synth(sections: list[dict]) -> list[dict]:
    """qa, mc and socratic synthetic examples for every section (answers quote the section)."""
    out = []
    for s in sections:
        w = s["text"].replace(".", "").split()
        out.append(example(s, "qa", f"What does the text say about {w[3]} and {w[7]}?", " ".join(w[10:40]) + "."))
        opts = [" ".join(w[k : k + 4]) for k in (50, 60, 70, 80)]
        out.append(
            example(
                s,
                "mc",
                f"Which phrase follows {w[48]} {w[49]}?\nA. {opts[0]}\nB. {opts[1]}\nC. {opts[2]}\nD. {opts[3]}",
                f"A. {opts[0]}",
                options=opts,
                answer_index=0,
            )
        )
        msgs = [
            {"role": "user", "content": f"I do not get {w[90]} {w[91]}."},
            {"role": "assistant", "content": f"Look at the part about {w[95]}. What comes before {w[96]}?"},
            {"role": "user", "content": f"Is it {w[94]}?"},
            {"role": "assistant", "content": f"Good. Now how does {w[100]} {w[101]} relate to it?"},
        ]
        ex = example(s, "socratic", "", "")
        ex["messages"] = msgs
        ex["example_id"] = stable_id("synth:template", s["section_id"], "socratic")
        out.append(ex)
    return out


def make_export(sections: list[dict], project: int = 7, start_task: int = 100) -> list[dict]:
    """One task of each kind (label, qa with distractors, socratic, review accept) over the given sections."""
    kinds = [
        ("section_label", {"subject": "physics", "difficulty": "medium"}),
        (
            "qa",
            {
                "question": "What does the section explain?",
                "answer": "It explains the main idea in detail.",
                "distractors": ["Nothing at all", "A recipe", "A poem"],
            },
        ),
        (
            "socratic",
            {
                "student_opening": "Why does it work?",
                "withheld_answer": "because of the main idea",
                "turns": [
                    ["What do you notice first in the text?", "The first sentence."],
                    ["Good. What does that sentence say happens?", ""],
                ],
            },
        ),
        ("review", {"verdict": "accept"}),
    ]
    tasks = []
    for i, (kind, payload) in enumerate(kinds):
        s = sections[i % len(sections)]
        extra = (
            {"question": "What is it?", "model_answer": "It is the model's answer.", "example_id": f"synth-{i}"}
            if kind == "review"
            else {}
        )
        data = section_task_data(kind, s, **extra)
        assert data["heading"] == heading_of(s)
        tid = start_task + i
        ann = eb.annotation(
            1000 + tid, tid, 1, eb.results(kind, payload, f"{tid}"), minutes=10 * i, lead_time=30.0, project=project
        )
        tasks.append(eb.task(tid, i + 1, data, [ann], project, minutes=10 * i))
    return tasks
