"""`retrain` flow: Label Studio pull -> rebuild (… evaluate -> register) -> promote if the gate passes -> select + push.

    python -m flows.retrain                      # without LABEL_STUDIO_URL/_API_KEY the Label Studio steps are skipped
    LABEL_STUDIO_URL=http://127.0.0.1:8080 LABEL_STUDIO_API_KEY=... python -m flows.retrain
    tutorforge flows serve                       # scheduled weekly (params orchestration.retrain_cron)

Every step calls existing code: the Label Studio commands in params [orchestration] (label_pull, select,
label_push), the `rebuild` flow (DVC; `register` is a DVC stage), and `tutorforge registry promote` (the gate of
params [register].gate). A run-summary artifact says what changed: new annotations, metric deltas against the
previous run's metrics.json, the version registered, promoted or not (and why), what was pushed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.rebuild import flatten_metrics, orchestration_config, rebuild
from tutorforge.orchestration.dvc_runner import stream, subprocess_env


def label_studio_configured() -> str | None:
    """None when Label Studio can be used, else the reason it cannot (names the missing variables)."""
    missing = [v for v in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY") if not os.environ.get(v)]
    return f"{' and '.join(missing)} not set" if missing else None


def command(line: str) -> list[str]:
    """A params command line as argv; `tutorforge` / `python` become this interpreter's CLI / interpreter."""
    argv = shlex.split(line)
    if argv[:1] == ["tutorforge"]:
        return [sys.executable, "-m", "tutorforge.cli.app", *argv[1:]]
    if argv[:1] == ["python"]:
        return [sys.executable, *argv[1:]]
    return argv


def run_logged(argv: list[str], repo: str, log: Any) -> tuple[int, list[str]]:
    log.info("running: %s", " ".join(argv))
    return stream(argv, repo, lambda ln: log.info("  %s", ln), subprocess_env())


def annotation_count(repo: Path, glob: str = "data/annotations/*.json") -> int:
    """Annotations over all export snapshots (Label Studio JSON: tasks with `annotations` lists)."""
    n = 0
    for p in sorted(repo.glob(glob)):
        try:
            tasks = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        n += sum(len(t.get("annotations") or []) for t in tasks if isinstance(t, dict))
    return n


def metric_values(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    rows = flatten_metrics(json.loads(path.read_text(encoding="utf-8")))
    return {r["metric"]: r["value"] for r in rows if isinstance(r["value"], int | float) and not isinstance(r["value"], bool)}


def metric_deltas(before: dict[str, float], after: dict[str, float]) -> list[dict[str, Any]]:
    return [{"metric": k, "before": before.get(k), "after": v,
             "delta": None if k not in before else round(v - before[k], 6)} for k, v in sorted(after.items())]


@task
def pull_annotations(repo: str, cmd: str) -> dict[str, Any]:
    log = get_run_logger()
    why = label_studio_configured()
    before = annotation_count(Path(repo))
    if why:
        log.info("Label Studio pull skipped: %s (using the annotation snapshots in data/annotations)", why)
        return {"skipped": why, "annotations": before, "new": 0}
    rc, lines = run_logged(command(cmd), repo, log)
    if rc:
        raise RuntimeError(f"Label Studio pull failed (exit {rc}): " + "\n".join(lines[-10:]))
    after = annotation_count(Path(repo))
    return {"skipped": None, "annotations": after, "new": after - before}


@task
def promote(repo: str, registration: str, enabled: bool) -> dict[str, Any]:
    log = get_run_logger()
    reg_path = Path(repo) / registration
    if not reg_path.exists():
        return {"promoted": False, "reason": f"{registration} missing (no register stage run)"}
    rec = json.loads(reg_path.read_text(encoding="utf-8"))
    version = rec.get("version")
    if not enabled:
        return {"promoted": False, "version": version, "reason": "orchestration.promote is false"}
    if rec.get("production") == version:
        return {"promoted": False, "version": version, "reason": f"{version} already production"}
    rc, lines = run_logged([sys.executable, "-m", "tutorforge.cli.app", "registry", "promote", str(version)], repo, log)
    reasons = [ln.strip(" -") for ln in lines if ln.strip().startswith("-")]
    if rc == 0:
        return {"promoted": True, "version": version, "reason": "; ".join(reasons) or "gate passed"}
    if any("refused by the gate" in ln for ln in lines):
        return {"promoted": False, "version": version, "reason": "; ".join(reasons) or "gate refused"}
    raise RuntimeError(f"promote {version} failed (exit {rc}): " + "\n".join(lines[-10:]))


@task
def select_and_push(repo: str, select_cmd: str, push_cmd: str) -> dict[str, Any]:
    log = get_run_logger()
    why = label_studio_configured()
    if why:
        log.info("active-learning selection + push skipped: %s", why)
        return {"skipped": why}
    for name, line in (("select", select_cmd), ("push", push_cmd)):
        if not line:
            continue
        rc, lines = run_logged(command(line), repo, log)
        if rc:
            raise RuntimeError(f"{name} failed (exit {rc}): " + "\n".join(lines[-10:]))
    return {"skipped": None, "pushed": True}


def summary_markdown(pulled: dict, stages: dict[str, str], deltas: list[dict], promo: dict, pushed: dict) -> str:
    ran = [s for s, st in stages.items() if st == "ran"]
    lines = ["# Retrain run summary", "",
             f"- **Annotations**: {pulled['annotations']} total, {pulled['new']} new"
             + (f" (pull skipped: {pulled['skipped']})" if pulled.get("skipped") else ""),
             f"- **Stages re-run**: {', '.join(ran) or 'none (all cached)'}",
             f"- **Registered**: {promo.get('version', 'n/a')}",
             f"- **Promoted to production**: {'yes' if promo.get('promoted') else 'no'} ({promo.get('reason', '')})",
             "- **Selection pushed to Label Studio**: "
             + ("skipped: " + pushed["skipped"] if pushed.get("skipped") else "yes"), "",
             "| metric | before | after | delta |", "|---|---|---|---|"]
    lines += [f"| {d['metric']} | {d['before']} | {d['after']} | {d['delta']} |" for d in deltas if d["delta"] != 0]
    return "\n".join(lines) + "\n"


@flow(name="retrain", log_prints=True)
def retrain(repo: str = ".", params: str = "params.yaml", retries: int | None = None) -> dict[str, Any]:
    """Pull new annotations, rebuild, register, promote if the gate passes, push the next batch; returns a summary."""
    root = str(Path(repo).resolve())
    cfg = orchestration_config(root, params)
    before = metric_values(Path(root) / cfg.metrics)
    pulled = pull_annotations(root, cfg.label_pull)
    stages = rebuild(repo=root, params=params, retries=retries)
    deltas = metric_deltas(before, metric_values(Path(root) / cfg.metrics))
    promo = promote(root, cfg.registration, cfg.promote)
    pushed = select_and_push(root, cfg.select, cfg.label_push)
    md = summary_markdown(pulled, stages, deltas, promo, pushed)
    create_markdown_artifact(md, key="tutorforge-retrain-summary", description="what this retrain run changed")
    return {"annotations": pulled, "stages": stages, "metric_deltas": deltas, "promotion": promo, "push": pushed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=".")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--retries", type=int)
    a = ap.parse_args(argv)
    return retrain(repo=a.repo, params=a.params, retries=a.retries)


if __name__ == "__main__":
    main()
