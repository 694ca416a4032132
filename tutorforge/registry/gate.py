"""The promotion gate: a version moves `production` only if its metrics.json passes every rule of params
[register].gate, against absolute thresholds and against the version `production` points to now.

    ok, reasons = promote(registry, "tutorforge-tutor", "staging", cfg.gate)
    # (True, ['sft.bench.answer_loss=1.9 beats production 2 by margin 0.02 (needs <= 1.98)'])

A rule is {metric: a flattened metrics.json key (sft.bench.answer_loss), direction: lower|higher, margin: improvement
needed over production (default 0; a negative margin tolerates a small loss, as the MMLU forgetting guard does),
threshold: absolute bound (optional)}. The comparison is re-done on every compare-and-swap retry of the alias, so a
concurrent promotion can never slip a worse model past the gate.

Metrics are only comparable on the same frozen benchmark: evaluate writes `benchmark: {name, version, digest}` into
metrics.json, and a candidate scored on another version or digest than production is refused without comparing
any rule, with one reason line:

    # (False, ['benchmark mismatch: candidate scored on tutor-v2 (digest 9f3a0c1d2e4b), production on tutor-v1
    #   (digest 4eb85fb7499c): re-score both on one benchmark before comparing'])

Only `force` (an operator's explicit override, recorded as "forced") moves the alias then, e.g. to switch production
onto a new benchmark version once.
"""

from __future__ import annotations

import json
from typing import Any

from tutorforge.registry.registry import Registry
from tutorforge.registry.store import RegistryError


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """{"sft": {"bench": {"answer_loss": 1.2}}} -> {"sft.bench.answer_loss": 1.2} (numbers only)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


def _bench_id(metrics: dict[str, Any]) -> tuple[str, str, str] | None:
    b = metrics.get("benchmark")
    if not isinstance(b, dict):
        return None
    return str(b.get("name", "?")), str(b.get("version", "?")), str(b.get("digest", "?"))


def benchmark_mismatch(cand: dict[str, Any], prod: dict[str, Any]) -> str | None:
    """Why two raw metrics.json objects cannot be compared (scored on different benchmarks), or None when they can;
    metrics without a `benchmark` entry (before the frozen benchmark existed) only compare with each other."""
    c, p = _bench_id(cand), _bench_id(prod)
    if c == p:
        return None
    show = lambda b: f"{b[0]}-{b[1]} (digest {b[2][:12]})" if b else "no benchmark (older metrics)"  # noqa: E731
    return (
        f"benchmark mismatch: candidate scored on {show(c)}, production on {show(p)}: "
        "re-score both on one benchmark before comparing"
    )


def check_gate(
    cand: dict[str, float], prod: dict[str, float] | None, gate: list[dict[str, Any]]
) -> tuple[bool, list[str]]:
    """Every rule must hold: absolute `threshold` (if set) and, against production, a `margin` improvement."""
    ok, reasons = True, []
    for rule in gate:
        m, lower = rule["metric"], rule.get("direction", "lower") == "lower"
        if rule.get("direction", "lower") not in ("lower", "higher"):
            raise RegistryError(f"gate rule {rule}: direction must be lower|higher")
        if m not in cand:
            ok = False
            reasons.append(f"{m}: missing in candidate metrics")
            continue
        c, sign = cand[m], "<=" if lower else ">="
        thr = rule.get("threshold")
        if thr is not None:
            thr_ok = c <= thr if lower else c >= thr
            ok &= thr_ok
            reasons.append(f"{m}={c:.4g} {'passes' if thr_ok else 'fails'} threshold {sign} {thr}")
        if prod is not None and m in prod:
            margin = float(rule.get("margin", 0.0))
            need = prod[m] - margin if lower else prod[m] + margin
            good = c <= need if lower else c >= need
            ok &= good
            reasons.append(
                f"{m}={c:.4g} {'beats' if good else 'does not beat'} production {prod[m]:.4g} "
                f"by margin {margin} (needs {sign} {need:.4g})"
            )
    return ok, reasons


def promote(
    registry: Registry,
    name: str,
    ref: str,
    gate: list[dict[str, Any]],
    alias: str = "production",
    force: bool = False,
    actor: str | None = None,
) -> tuple[bool, list[str]]:
    """Gate `ref` against the version `alias` points to (re-checked on every CAS retry); returns (moved or already
    there or forced, reasons). `force` moves the alias even when the gate refuses (recorded as "forced")."""
    version = registry.resolve(name, ref)
    cand_raw = json.loads(registry.read_file(name, version, "metrics.json"))
    cand = flatten(cand_raw)
    result: dict[str, Any] = {}

    def decide(cur: dict[str, Any] | None) -> tuple[str, str] | None:
        base, mismatch = None, None
        if cur and cur["version"] != version:
            prod_raw = json.loads(registry.read_file(name, cur["version"], "metrics.json"))
            mismatch = benchmark_mismatch(cand_raw, prod_raw)
            base = flatten(prod_raw)
        if mismatch:  # never compared: numbers from two different benchmarks mean nothing side by side
            ok, reasons = False, [mismatch]
        else:
            ok, reasons = check_gate(cand, base, gate)
        result.update(ok=ok or force, reasons=reasons + (["forced"] if force and not ok else []))
        if cur and cur["version"] == version:
            result["reasons"] = [f"{alias} already at {version}"]
            return None
        if not (ok or force):
            return None
        return version, "; ".join(result["reasons"]) or "promoted"

    registry.set_alias(name, alias, decide, "promote", actor)
    return bool(result.get("ok")), list(result.get("reasons", []))
