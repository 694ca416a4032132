"""Character error rate of OCR output against ground truth (plain Levenshtein, whitespace-normalised)."""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert/delete/substitute = 1), O(len(a) * len(b)) time, O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(hypothesis: str, reference: str) -> float:
    """Edits needed to turn the whitespace-normalised hypothesis into the reference, per reference character."""
    hyp, ref = " ".join(hypothesis.split()), " ".join(reference.split())
    return levenshtein(hyp, ref) / max(1, len(ref))
