"""Two models on the same benchmark items: how many items each gets right that the other misses, and whether that
difference is more than chance (exact McNemar test: under "no difference" a discordant item is a fair coin flip).

    paired_test({"mc-bio-001": True, "mc-bio-002": False, ...}, {"mc-bio-001": True, "mc-bio-002": True, ...})
    # {"items": 40, "both": 10, "neither": 24, "baseline_only": 4, "candidate_only": 2, "p_value": 0.6875}

On 40 MC items two models at chance differ by a few items run to run; a 0.05 drop in accuracy (2 items) with 6
discordant items has p = 0.69, which report.md says next to the delta.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import comb


def mcnemar_exact(baseline_only: int, candidate_only: int) -> float:
    """Two-sided exact McNemar p-value: P(a split of the discordant items at least this uneven | a fair coin)."""
    n, k = baseline_only + candidate_only, min(baseline_only, candidate_only)
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_test(baseline: Mapping[str, bool], candidate: Mapping[str, bool]) -> dict[str, float]:
    """Counts over the item ids both models were judged on, and the exact McNemar p-value of their difference."""
    ids = sorted(set(baseline) & set(candidate))
    both = sum(bool(baseline[i]) and bool(candidate[i]) for i in ids)
    neither = sum(not baseline[i] and not candidate[i] for i in ids)
    b_only = sum(bool(baseline[i]) and not candidate[i] for i in ids)
    c_only = sum(bool(candidate[i]) and not baseline[i] for i in ids)
    return {"items": len(ids), "both": both, "neither": neither, "baseline_only": b_only, "candidate_only": c_only,
            "p_value": round(mcnemar_exact(b_only, c_only), 6)}  # fmt: skip
