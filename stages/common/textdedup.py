"""Text normalisation, exact + MinHash-LSH near-duplicate removal, and n-gram decontamination.

Shared by `stages/dataset.py` and `benchmarks/dataset.py`. Everything is deterministic: the caller passes items
in priority order (the first of a duplicate group is kept) and MinHash permutations come from a fixed seed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

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
    return {" ".join(w[i:i + k]).encode("utf-8") for i in range(len(w) - k + 1)}


def ngrams(text: str, n: int) -> set[str]:
    """Word n-grams of the normalised text (empty when the text is shorter than n words)."""
    w = words(text)
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


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


def minhash_dedup(items: Sequence[tuple[str, str]], threshold: float = 0.85, num_perm: int = 128,
                  shingle_size: int = 5, seed: int = 1, batch: int = 2048,
                  progress_cb=None) -> dict[str, tuple[str, float]]:
    """Near-duplicates by MinHash LSH: {removed_id: (kept_id, estimated_jaccard)}.

    Items are processed in order; each is queried against the kept ones and kept only if no candidate's
    estimated Jaccard similarity reaches `threshold` (LSH candidates are verified, so false positives are not
    removed). MinHashes are computed in batches with `MinHash.bulk`.
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: dict[str, MinHash] = {}
    removed: dict[str, tuple[str, float]] = {}
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        hashes = MinHash.bulk([shingles(t, shingle_size) for _, t in chunk], num_perm=num_perm, seed=seed)
        for (item_id, _), m in zip(chunk, hashes, strict=True):
            best: tuple[str, float] | None = None
            for cand in sorted(lsh.query(m)):
                j = m.jaccard(kept[cand])
                if j >= threshold and (best is None or j > best[1]):
                    best = (cand, j)
            if best is None:
                lsh.insert(item_id, m)
                kept[item_id] = m
            else:
                removed[item_id] = (best[0], round(best[1], 4))
        if progress_cb:
            progress_cb(min(start + batch, len(items)), len(items))
    return removed


def naive_near_dups(items: Sequence[tuple[str, str]], threshold: float, shingle_size: int) -> dict[str, tuple[str, float]]:
    """Baseline: exact pairwise Jaccard of shingle sets against all kept items (O(n^2)); same contract."""
    kept: list[tuple[str, set[bytes]]] = []
    removed: dict[str, tuple[str, float]] = {}
    for item_id, text in items:
        s = shingles(text, shingle_size)
        best: tuple[str, float] | None = None
        for kid, ks in kept:
            j = len(s & ks) / len(s | ks)
            if j >= threshold and (best is None or j > best[1]):
                best = (kid, j)
        if best is None:
            kept.append((item_id, s))
        else:
            removed[item_id] = (best[0], round(best[1], 4))
    return removed


class NgramIndex:
    """Word n-grams of evaluation items, for decontaminating training items.

    An n-gram found in eval items of more than `max_groups` distinct groups (sections) is treated as boilerplate
    (template wording, a repeated textbook phrase) and ignored, so one template sentence cannot wipe out the
    training set; the rest flag any training item that shares one of them.
    """

    def __init__(self, n: int, max_groups: int) -> None:
        self.n, self.max_groups = n, max_groups
        self._owner: dict[str, tuple[str, set[str]]] = {}

    def add(self, item_id: str, group: str, text: str) -> None:
        for g in ngrams(text, self.n):
            owner = self._owner.get(g)
            if owner is None:
                self._owner[g] = (item_id, {group})
            else:
                owner[1].add(group)

    def boilerplate(self) -> int:
        return sum(len(groups) > self.max_groups for _, groups in self._owner.values())

    def hit(self, text: str) -> tuple[str, str] | None:
        """(eval item id, shared n-gram) of the first (sorted) contaminating n-gram, or None."""
        for g in sorted(ngrams(text, self.n)):
            owner = self._owner.get(g)
            if owner is not None and len(owner[1]) <= self.max_groups:
                return owner[0], g
        return None


def concat(parts: Iterable[str]) -> str:
    return "\n".join(p for p in parts if p)
