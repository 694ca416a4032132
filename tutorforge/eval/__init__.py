"""Evaluation: token scoring and greedy generation (lmscore), the evaluate job (base vs SFT on held-out data),
local `evaluate` metric modules (metrics/), what evaluate writes (report), and the loader of the frozen hand-written
benchmark data/benchmarks/tutor-v1 that the promotion gate compares versions on (benchmark).

An evaluate/metrics.json excerpt:

    {"answer_loss_reduction": 0.353763, "base": {"answer_loss": 6.553519, ...}, "sft": {"answer_loss": 4.235124,
     "mc_accuracy": 0.4, ...}, "counts": {"answer_items": 58, ...}}
"""
