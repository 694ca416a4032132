"""Generated school-textbook-like corpora and SFT examples for tokenizer/pretrain tests (deterministic, no files needed).

from lm_fixtures import write_pretrain_corpus
write_pretrain_corpus(tmp_path / "pretrain", n_train=300)   # -> train/validation/test.jsonl (~250 KB)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS = {
    "biology": [
        ("the cell membrane", "controls what enters and leaves the cell"),
        ("photosynthesis", "turns light energy into chemical energy stored in glucose"),
        ("mitosis", "divides one nucleus into two identical nuclei"),
        ("an enzyme", "is a protein that speeds up a chemical reaction"),
        ("the heart", "pumps blood through the arteries and veins"),
        ("DNA", "carries the genetic instructions of an organism"),
    ],
    "chemistry": [
        ("an atom", "has a nucleus of protons and neutrons surrounded by electrons"),
        ("an acid", "releases hydrogen ions in water"),
        ("a covalent bond", "forms when two atoms share a pair of electrons"),
        ("the periodic table", "arranges the elements by atomic number"),
        ("a catalyst", "lowers the activation energy of a reaction"),
        ("an isotope", "has the same number of protons but a different number of neutrons"),
    ],
    "physics": [
        ("a force", "changes the motion of an object"),
        ("velocity", "is the rate of change of displacement"),
        ("kinetic energy", "equals one half of the mass times the velocity squared"),
        ("a wave", "transfers energy without transferring matter"),
        ("electric current", "is the rate of flow of charge"),
        ("friction", "opposes the relative motion of two surfaces"),
    ],
    "mathematics": [
        ("a prime number", "has exactly two distinct divisors"),
        ("the derivative", "measures the rate of change of a function"),
        ("a triangle", "has interior angles that add up to 180 degrees"),
        ("a polynomial", "is a sum of terms with whole number powers"),
        ("probability", "measures how likely an event is to happen"),
        ("a linear equation", "describes a straight line in the plane"),
    ],
}
FRAMES = [
    "In this section we learn that {t} {d}.",
    "Remember that {t} {d}.",
    "A student should know that {t} {d}.",
    "Example {n}: explain why {t} {d}.",
    "Scientists observed that {t} {d}, and this idea appears again in chapter {n}.",
    "Question {n}. Describe {t}. Answer: {t} {d}.",
]


def make_doc(rng: random.Random, subject: str, n_sentences: int = 25) -> str:
    """One section-like document of template sentences about `subject`."""
    out = []
    for _ in range(n_sentences):
        t, d = rng.choice(TOPICS[subject])
        out.append(rng.choice(FRAMES).format(t=t, d=d, n=rng.randint(1, 12)))
    return " ".join(s[0].upper() + s[1:] for s in out)


def write_pretrain_corpus(out_dir: Path, n_train: int = 300, n_val: int = 30, n_test: int = 30, seed: int = 0) -> Path:
    """Write train/validation/test.jsonl records {section_id, doc_id, subject, text} under out_dir."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    subjects = sorted(TOPICS)
    for split, n in (("train", n_train), ("validation", n_val), ("test", n_test)):
        with (out_dir / f"{split}.jsonl").open("w") as f:
            for i in range(n):
                subject = subjects[i % len(subjects)]
                rec = {
                    "section_id": f"{split}-{i:04d}",
                    "doc_id": f"doc-{i % 7}",
                    "subject": subject,
                    "text": make_doc(rng, subject),
                }
                f.write(json.dumps(rec, sort_keys=True) + "\n")
    return out_dir


def chat_example() -> list[dict]:
    """A conversation with every role, a tool call and a tool result."""
    return [
        {"role": "system", "content": "You are a patient science tutor."},
        {"role": "user", "content": "What does an enzyme do?"},
        {
            "role": "assistant",
            "content": "Let me look it up.",
            "tool_calls": [{"name": "search_textbook", "arguments": {"query": "enzyme", "k": 2}}],
        },
        {"role": "tool", "content": "An enzyme is a protein that speeds up a chemical reaction."},
        {"role": "assistant", "content": "An enzyme is a protein that speeds up a chemical reaction."},
    ]
