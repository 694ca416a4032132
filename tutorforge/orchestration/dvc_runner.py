"""DVC plumbing shared by the Prefect flows: the stage DAG read from dvc.yaml, and one stage run as a subprocess.

    from tutorforge.orchestration.dvc_runner import stage_order, run_stage
    stage_order("dvc.yaml")                       # ['ingest', 'segment', 'annotations', 'synth', 'dataset', ...]
    run_stage("ingest", repo=".", on_line=print)  # `dvc repro --single-item ingest`; waits for DVC's repo lock

Nothing here re-implements a stage: the order comes from dvc.yaml (outs -> deps, topological sort; ties keep the
file's order; `${section.key}` paths resolved from params.yaml and `vars:` as DVC does) and each stage is
`dvc repro --single-item <stage>`, whose own output says whether it ran, was unchanged (skipped) or was restored
from the run cache.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.config import read_params, yaml_load

LOCK_MARKERS = ("Unable to acquire lock", "is busy")
SKIPPED_MARKER = "didn't change, skipping"
CACHED_MARKER = "is cached - skipping run"
TEMPLATE = re.compile(r"\$\{\s*([^}]+?)\s*\}")


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero; the message names the stage and ends with its last output lines."""

    def __init__(self, stage: str, returncode: int, tail: list[str]):
        self.stage, self.returncode, self.tail = stage, returncode, tail
        super().__init__(f"stage {stage!r} failed (dvc exit {returncode}):\n" + "\n".join(tail[-15:]))


class LockTimeout(RuntimeError):
    """Another DVC process held the repo lock for longer than the allowed wait."""


@dataclass
class StageResult:
    stage: str
    status: str
    """ran | skipped (unchanged) | cached (restored from DVC's run cache)."""
    seconds: float
    lock_waits: int
    """How many times the stage waited for another DVC process's repo lock."""


def _norm(p: str) -> str:
    return os.path.normpath(p).replace(os.sep, "/")


def _paths(entries: list[Any] | None) -> list[str]:
    """dvc.yaml deps/outs/metrics/plots entries: plain strings or {path: {options}} mappings."""
    out: list[str] = []
    for e in entries or []:
        out.extend([e] if isinstance(e, str) else list(e))
    return [_norm(p) for p in out]


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def template_context(dvc_yaml: str | Path, doc: dict[str, Any]) -> dict[str, Any]:
    """What `${...}` in dvc.yaml can name: params.yaml next to it, then each `vars:` entry (a file or a mapping)."""
    base = Path(dvc_yaml).parent
    ctx = read_params(base / "params.yaml")
    for entry in doc.get("vars") or []:
        if isinstance(entry, dict):
            ctx = {**ctx, **entry}
        else:  # "file.yaml" or "file.yaml:key1,key2"
            name, _, keys = str(entry).partition(":")
            data = read_params(base / name)
            ctx = {**ctx, **({k: data[k] for k in keys.split(",") if k in data} if keys else data)}
    return ctx


def _lookup(ctx: dict[str, Any], key: str, where: str) -> Any:
    node: Any = ctx
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"{where}: ${{{key}}} is not defined in params.yaml or vars")
        node = node[part]
    return node


def interpolate(value: Any, ctx: dict[str, Any], where: str) -> Any:
    """`value` with every `${key}` replaced (a whole-string `${key}` keeps the value's type), keys included."""
    if isinstance(value, str):
        whole = TEMPLATE.fullmatch(value)
        if whole:
            return _lookup(ctx, whole.group(1), where)
        return TEMPLATE.sub(lambda m: str(_lookup(ctx, m.group(1), where)), value)
    if isinstance(value, list):
        return [interpolate(v, ctx, where) for v in value]
    if isinstance(value, dict):
        return {interpolate(k, ctx, where): interpolate(v, ctx, where) for k, v in value.items()}
    return value


def load_stages(dvc_yaml: str | Path = "dvc.yaml") -> dict[str, dict[str, Any]]:
    """The `stages:` mapping of dvc.yaml with `${...}` resolved (foreach/matrix stages are refused: run them through
    `dvc repro`)."""
    doc = yaml_load(Path(dvc_yaml).read_text(encoding="utf-8")) or {}
    stages = doc.get("stages") or {}
    for name, st in stages.items():
        if not isinstance(st, dict) or "cmd" not in st:
            raise ValueError(f"{dvc_yaml}: stage {name!r} has no cmd (foreach/matrix stages are not supported here)")
    if not any(TEMPLATE.search(str(st)) for st in stages.values()):
        return stages
    ctx = template_context(dvc_yaml, doc)
    return {name: interpolate(st, ctx, f"{dvc_yaml}: stage {name!r}") for name, st in stages.items()}


def stage_graph(stages: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """stage -> upstream stages (one of whose outs, metrics or plots is, contains or sits inside one of its deps)."""
    outs = {n: _paths(s.get("outs")) + _paths(s.get("metrics")) + _paths(s.get("plots")) for n, s in stages.items()}
    graph: dict[str, list[str]] = {}
    for name, st in stages.items():
        deps = _paths(st.get("deps"))
        graph[name] = [u for u in stages if u != name and any(_overlaps(d, o) for d in deps for o in outs[u])]
    return graph


def topo_order(graph: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm; among ready stages the one listed first in dvc.yaml goes first. Cycles are an error."""
    pos = {n: i for i, n in enumerate(graph)}
    indeg = {n: len(set(up)) for n, up in graph.items()}
    down: dict[str, list[str]] = {n: [] for n in graph}
    for n, ups in graph.items():
        for u in set(ups):
            down[u].append(n)
    ready = sorted((n for n, d in indeg.items() if d == 0), key=pos.__getitem__)
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in down[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
        ready.sort(key=pos.__getitem__)
    if len(order) != len(graph):
        raise ValueError(f"dvc.yaml has a dependency cycle among {sorted(set(graph) - set(order))}")
    return order


def stage_order(dvc_yaml: str | Path = "dvc.yaml", targets: list[str] | None = None) -> list[str]:
    """All stages in DAG order, or only `targets` and everything upstream of them."""
    graph = stage_graph(load_stages(dvc_yaml))
    order = topo_order(graph)
    if not targets:
        return order
    unknown = sorted(set(targets) - set(graph))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; dvc.yaml has {order}")
    keep: set[str] = set()
    todo = list(targets)
    while todo:
        n = todo.pop()
        if n not in keep:
            keep.add(n)
            todo.extend(graph[n])
    return [n for n in order if n in keep]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with this interpreter's bin dir first on PATH (dvc.yaml commands call `python`)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return {**env, **(extra or {})}


def dvc_exe() -> str:
    """The dvc next to this interpreter (the project venv), else `dvc` on PATH."""
    exe = Path(sys.executable).parent / "dvc"
    return str(exe) if exe.exists() else "dvc"


def stream(
    cmd: list[str], cwd: str | Path, on_line: Callable[[str], None], env: dict[str, str] | None = None
) -> tuple[int, list[str]]:
    """Run `cmd`, passing every output line (stdout+stderr) to `on_line` as it arrives; returns (rc, lines)."""
    lines: list[str] = []
    with subprocess.Popen(
        cmd,
        cwd=str(cwd),
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            on_line(line)
        rc = proc.wait()
    return rc, lines


def classify(lines: list[str]) -> str:
    text = "\n".join(lines)
    if CACHED_MARKER in text:
        return "cached"
    if SKIPPED_MARKER in text:
        return "skipped"
    return "ran"


def run_stage(
    stage: str,
    repo: str | Path = ".",
    on_line: Callable[[str], None] = print,
    lock_timeout_s: float = 1800.0,
    lock_poll_s: float = 5.0,
    force: bool = False,
) -> StageResult:
    """`dvc repro --single-item <stage>` in `repo`, waiting (polling) while another DVC process holds the lock."""
    cmd = [dvc_exe(), "repro", "--single-item", stage] + (["--force"] if force else [])
    t0 = time.monotonic()
    waits = 0
    while True:
        rc, lines = stream(cmd, repo, on_line)
        if rc == 0:
            return StageResult(stage, classify(lines), round(time.monotonic() - t0, 2), waits)
        if not any(m in line for line in lines for m in LOCK_MARKERS):
            raise StageFailed(stage, rc, lines)
        if time.monotonic() - t0 + lock_poll_s > lock_timeout_s:
            raise LockTimeout(
                f"stage {stage!r}: DVC repo lock in {repo} still held after {lock_timeout_s:.0f}s "
                "(another `dvc` command is running there)"
            )
        waits += 1
        on_line(f"[tutorforge] DVC repo lock held by another process; retrying {stage!r} in {lock_poll_s:g}s")
        time.sleep(lock_poll_s)
