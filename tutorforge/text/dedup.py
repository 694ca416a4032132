"""Text normalisation, exact + MinHash-LSH near-duplicate removal, and n-gram decontamination.

Shared by `tutorforge/dataset/build.py` and `benchmarks/dataset.py`. Everything is deterministic: the caller passes items
in priority order (the first of a duplicate group is kept) and MinHash permutations come from a fixed seed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar, cast

_K = TypeVar("_K", bound=Hashable)
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (punctuation and whitespace dropped): the normal form for all comparisons."""
    return _WORD.findall(text.lower())


def exact_key(text: str) -> str:
    """Hash of the normalised text: equal keys = duplicates up to case, punctuation and spacing."""
    return hashlib.sha1(" ".join(words(text)).encode("utf-8")).hexdigest()


def shingles(text: str, k: int) -> set[bytes]:
    """Word k-shingles (a text shorter than k words is one shingle)."""
    w = words(text)
    if len(w) <= k:
        return {" ".join(w).encode("utf-8")}
    return {" ".join(w[i : i + k]).encode("utf-8") for i in range(len(w) - k + 1)}


def ngrams(text: str, n: int) -> set[str]:
    """Word n-grams of the normalised text (empty when the text is shorter than n words)."""
    w = words(text)
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def exact_dedup(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    """items = [(id, text)] in priority order -> {removed_id: kept_id} for normalised-exact duplicates."""
    first: dict[str, str] = {}
    removed: dict[str, str] = {}
    for item_id, text in items:
        key = exact_key(text)
        if key in first:
            removed[item_id] = first[key]
        else:
            first[key] = item_id
    return removed


def minhash_dedup(
    items: Sequence[tuple[str, str]],
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle_size: int = 3,
    seed: int = 1,
    batch: int = 2048,
    candidate_margin: float = 0.15,
    progress_cb=None,
) -> dict[str, tuple[str, float]]:
    """Near-duplicates by MinHash LSH: {removed_id: (kept_id, jaccard)}.

    Items are processed in order; each is queried against the kept ones. LSH is tuned to a lower candidate
    threshold (`threshold - candidate_margin`) so that pairs whose *estimated* similarity falls just under the
    threshold are still found, and every candidate is verified with the exact Jaccard of the shingle sets: no
    false positives, and (almost) none of the misses a pure MinHash estimate has around the threshold. MinHashes
    are computed in batches with `MinHash.bulk`.
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=max(0.05, threshold - candidate_margin), num_perm=num_perm)
    kept: dict[str, set[bytes]] = {}
    removed: dict[str, tuple[str, float]] = {}
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        sets = [shingles(t, shingle_size) for _, t in chunk]
        hashes = MinHash.bulk(sets, num_perm=num_perm, seed=seed)
        for (item_id, _), sh, m in zip(chunk, sets, hashes, strict=True):
            best: tuple[str, float] | None = None
            for cand in sorted(cast("list[str]", lsh.query(m))):  # keys are the item ids inserted below
                other = kept[cand]
                inter = len(sh & other)
                j = inter / (len(sh) + len(other) - inter)
                if j >= threshold and (best is None or j > best[1]):
                    best = (cand, j)
            if best is None:
                lsh.insert(item_id, m)
                kept[item_id] = sh
            else:
                removed[item_id] = (best[0], round(best[1], 4))
        if progress_cb:
            progress_cb(min(start + batch, len(items)), len(items))
    return removed


def naive_near_dups(
    items: Sequence[tuple[str, str]], threshold: float, shingle_size: int
) -> dict[str, tuple[str, float]]:
    """Baseline: exact pairwise Jaccard of shingle sets against all kept items (O(n^2)); same contract."""
    kept: list[tuple[str, set[bytes]]] = []
    removed: dict[str, tuple[str, float]] = {}
    for item_id, text in items:
        s = shingles(text, shingle_size)
        best: tuple[str, float] | None = None
        for kid, ks in kept:
            inter = len(s & ks)
            j = inter / (len(s) + len(ks) - inter)
            if j >= threshold and (best is None or j > best[1]):
                best = (kid, j)
        if best is None:
            kept.append((item_id, s))
        else:
            removed[item_id] = (best[0], round(best[1], 4))
    return removed


class NgramIndex:
    """Word n-grams of evaluation items, for decontaminating training items.

    `add` the held-out items (with a group = their section), then `decontaminate` the training items: a training
    item sharing an n-gram with a held-out item is contaminated. Template wording is not evidence: an n-gram that
    contains any `window`-word run found in more than `max_groups` distinct sections (held-out + training) is
    boilerplate (a generator's template, a phrase every chapter repeats) and is ignored, so neither a template
    sentence nor a template sentence plus the next word can wipe out the training set.
    """

    def __init__(self, n: int, max_groups: int, window: int = 8) -> None:
        self.n, self.max_groups, self.window = n, max_groups, min(window, n)
        self._owner: dict[str, str] = {}
        self._texts: list[tuple[str, str]] = []
        self.n_boilerplate = 0

    def add(self, item_id: str, group: str, text: str) -> None:
        self._texts.append((group, text))
        for g in ngrams(text, self.n):
            self._owner.setdefault(g, item_id)

    def decontaminate(self, items: Sequence[tuple[_K, str, str]]) -> dict[_K, tuple[str, str]]:
        """items = [(id, group, text)] -> {contaminated id: (eval item id, first shared n-gram)}."""
        hits = {item_id: sorted(g for g in ngrams(text, self.n) if g in self._owner) for item_id, _, text in items}
        if not any(hits.values()):
            return {}
        spread: dict[str, set[str]] = {}
        for group, text in [*self._texts, *((g, t) for _, g, t in items)]:
            for w in ngrams(text, self.window):
                spread.setdefault(w, set()).add(group)
        common = {w for w, groups in spread.items() if len(groups) > self.max_groups}
        boiler: set[str] = set()
        out: dict[_K, tuple[str, str]] = {}
        for item_id, _, _ in items:
            for g in hits[item_id]:
                if g in boiler or (common and ngrams(g, self.window) & common):
                    boiler.add(g)
                    continue
                out[item_id] = (self._owner[g], g)
                break
        self.n_boilerplate = len(boiler)
        return out


def concat(parts: Iterable[str]) -> str:
    return "\n".join(p for p in parts if p)
