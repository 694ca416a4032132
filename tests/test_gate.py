"""The promotion gate never compares metrics scored on different frozen benchmarks (tutorforge/registry/gate.py), on a
real local registry."""

from __future__ import annotations

import json

import pytest

from tests.support.registry_data import make_artifacts
from tutorforge.registry.gate import benchmark_mismatch, promote
from tutorforge.registry.registry import Registry
from tutorforge.registry.store import LocalStore, Transfer

V1 = {"name": "tutor", "version": "v1", "digest": "4eb85fb7499c" + "0" * 52}
GATE = [{"metric": "sft.bench.answer_loss", "direction": "lower", "margin": 0.02}]


def metrics(answer_loss: float, bench: dict | None) -> dict:
    out = {"sft": {"bench": {"answer_loss": answer_loss}}, "untuned": {"bench": {"answer_loss": 3.0}}}
    return out | ({"benchmark": bench} if bench is not None else {})


@pytest.fixture
def reg(tmp_path):
    return Registry(LocalStore(tmp_path / "registry", Transfer(5, 5, 2, 2)))


def register(reg: Registry, tmp_path, tag: str, m: dict) -> str:
    src = make_artifacts(tmp_path / tag, tag=tag)
    src["metrics.json"].write_text(json.dumps(m))
    return reg.register("tutor", src)[0]


@pytest.mark.parametrize(
    ("bench", "what"),
    [
        ({**V1, "version": "v2", "digest": "9f3a0c1d2e4b" + "1" * 52}, "tutor-v2 (digest 9f3a0c1d2e4b)"),
        ({**V1, "digest": "0123456789ab" + "2" * 52}, "tutor-v1 (digest 0123456789ab)"),  # same version, edited
        (None, "no benchmark (older metrics)"),
    ],
    ids=["other-version", "other-digest", "no-benchmark"],
)
def test_gate_refuses_a_candidate_scored_on_another_benchmark(reg, tmp_path, bench, what):
    prod = register(reg, tmp_path, "prod", metrics(2.0, V1))
    assert promote(reg, "tutor", prod, GATE)[0]
    cand = register(reg, tmp_path, "cand", metrics(1.0, bench))  # far better, but on another benchmark
    ok, reasons = promote(reg, "tutor", cand, GATE)
    assert not ok and reg.resolve("tutor", "production") == prod
    assert reasons == [
        f"benchmark mismatch: candidate scored on {what}, production on tutor-v1 (digest 4eb85fb7499c): "
        "re-score both on one benchmark before comparing"
    ]
    assert "\n" not in reasons[0]
    # an operator's explicit override still can (e.g. moving production onto a new benchmark version once)
    ok, reasons = promote(reg, "tutor", cand, GATE, force=True)
    assert ok and reasons[-1] == "forced" and reg.resolve("tutor", "production") == cand


def test_same_benchmark_is_compared_by_the_rules(reg, tmp_path):
    prod = register(reg, tmp_path, "prod", metrics(2.0, V1))
    assert promote(reg, "tutor", prod, GATE)[0]
    worse = register(reg, tmp_path, "worse", metrics(1.99, V1))  # improvement 0.01 < margin 0.02
    ok, reasons = promote(reg, "tutor", worse, GATE)
    assert not ok and "does not beat production" in reasons[0]
    better = register(reg, tmp_path, "better", metrics(1.9, V1))
    ok, reasons = promote(reg, "tutor", better, GATE)
    assert ok and "beats production" in reasons[0] and reg.resolve("tutor", "production") == better


def test_benchmark_mismatch_only_when_the_identities_differ():
    assert benchmark_mismatch(metrics(1, V1), metrics(2, dict(V1))) is None
    assert benchmark_mismatch(metrics(1, None), metrics(2, None)) is None  # both older metrics: comparable as before
    assert benchmark_mismatch(metrics(1, None), metrics(2, V1)) is not None
