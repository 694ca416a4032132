"""The promotion gate: a version moves `production` only if its metrics.json passes every rule of params
[register].gate, against absolute thresholds and against the version `production` points to now.

    ok, reasons = promote(registry, "tutorforge-tutor", "staging", cfg.gate)
    # (True, ['sft.answer_loss=1.9 beats production 2 by margin 0.02 (needs <= 1.98)'])

A rule is {metric: a flattened metrics.json key (sft.answer_loss), direction: lower|higher, margin: improvement
needed over production (default 0), threshold: absolute bound (optional)}. The comparison is re-done on every
compare-and-swap retry of the alias, so a concurrent promotion can never slip a worse model past the gate.
"""

from __future__ import annotations

import json
from typing import Any

from tutorforge.registry.registry import Registry
from tutorforge.registry.store import RegistryError


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """{"sft": {"answer_loss": 1.2}} -> {"sft.answer_loss": 1.2} (numbers only)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


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
    cand = flatten(json.loads(registry.read_file(name, version, "metrics.json")))
    result: dict[str, Any] = {}

    def decide(cur: dict[str, Any] | None) -> tuple[str, str] | None:
        base = None
        if cur and cur["version"] != version:
            base = flatten(json.loads(registry.read_file(name, cur["version"], "metrics.json")))
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
