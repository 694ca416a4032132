"""Choosing by likelihood and sampling items: rank options by (length-normalised) log-likelihood, as multiple choice,
MMLU and subject classification do, and draw a seeded, capped, order-stable sample of items to score.

    scores = [(2.0, 1), (3.0, 6), (9.0, 3)]          # per option: (sum NLL in nats, scored tokens), from lmscore
    rank_options(scores, [5, 30, 12], "tokens")      # [1, 0, 2]: best first
    choose_option(scores, [5, 30, 12], "none")       # 0: highest total log-likelihood
    pick(items, 8, seed=1337, salt="mc")             # at most 8 items, seeded, in file order
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

NORMS = ("tokens", "chars", "none")
T = TypeVar("T")


def pick(records: list[T], n: int, seed: int, salt: str) -> list[T]:
    """A seeded sample of at most n records (file order in, stable order out)."""
    idx = list(range(len(records)))
    random.Random(f"{seed}:{salt}").shuffle(idx)
    return [records[i] for i in sorted(idx[:n])]


def rank_options(scores: list[tuple[float, int]], char_lens: list[int], norm: str = "tokens") -> list[int]:
    """Option indices from most to least likely; scores are (sum NLL, n tokens); ties -> lower index first.

    norm: tokens (mean log-likelihood per token), chars (per character) or none (total), so long options are not
    punished for their length unless asked to be.
    """
    if norm not in NORMS:
        raise ValueError(f"mc_length_norm must be tokens|chars|none, got {norm!r}")
    denom = {
        "tokens": [max(n, 1) for _, n in scores],
        "chars": [max(c, 1) for c in char_lens],
        "none": [1] * len(scores),
    }[norm]
    lls = [-nll / d for (nll, _), d in zip(scores, denom, strict=True)]
    return sorted(range(len(lls)), key=lambda i: (-lls[i], i))


def choose_option(scores: list[tuple[float, int]], char_lens: list[int], norm: str = "tokens") -> int:
    """Index of the most likely option (rank_options' first)."""
    return rank_options(scores, char_lens, norm)[0]


def accuracy(flags: list[Any]) -> float | None:
    """Share of truthy flags; None for no items (the metric is then left out, never reported as 0)."""
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def rank_tasks(tasks: list[dict[str, Any]], scores: list[tuple[float, int]], norm: str) -> list[list[int]]:
    """rank_options for each task {options, char_lens}, reading its options' scores from the flat `scores` in order."""
    it = iter(scores)
    return [rank_options([next(it) for _ in t["options"]], t["char_lens"], norm) for t in tasks]


def topk_accuracy(tasks: list[dict[str, Any]], ranks: list[list[int]], k: int, keep: Any = None) -> float | None:
    """Share of tasks (those `keep` selects) whose `answer` is among their k most likely options."""
    return accuracy([t["answer"] in r[:k] for t, r in zip(tasks, ranks, strict=True) if keep is None or keep(t)])
