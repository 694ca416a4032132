"""Prefect flows against a real Prefect server (tests/support/servers.py) and real DVC repos in temp dirs.

- DAG order from dvc.yaml, DVC lock waiting, stage failure naming: a one-line DVC repo (seconds).
- Deployments with their cron schedules registered on the server and read back with the Prefect client.
- cloud_train in dry-run mode: the exact commands it would run, nothing launched.
- The full `rebuild` on a copy of the project with tiny params (slow): a broken param fails the flow naming the
  stage; after the fix the re-run skips the unchanged stages (DVC cache), runs the rest, completes with one task run
  per stage, and publishes the report/metrics artifacts; then `retrain` runs on the same copy (Label Studio unset).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.support.repo import make_repo, set_param
from tutorforge.orchestration.dvc_runner import (
    LockTimeout,
    StageFailed,
    load_stages,
    run_stage,
    stage_graph,
    stage_order,
    topo_order,
)

ROOT = Path(__file__).resolve().parent.parent
DVC = str(Path(sys.executable).parent / "dvc")


@pytest.fixture
def prefect_env(prefect_server, monkeypatch):
    """PREFECT_API_URL/PREFECT_HOME of the test server, in the environment and in Prefect's (cached) settings."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    for k, v in prefect_server.env.items():
        monkeypatch.setenv(k, v)
    env = prefect_server.env
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_HOME: env["PREFECT_HOME"]}):
        assert PREFECT_API_URL.value() == prefect_server.url
        yield prefect_server
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # send buffered run logs while the server is still up


def _client_call(fn):
    from prefect.client.orchestration import get_client

    async def go():
        async with get_client() as client:
            return await fn(client)

    return asyncio.run(go())


# --- DAG order ----------------------------------------------------------------------------------------------------


def test_stage_order_follows_dvc_yaml_edges(tmp_path: Path) -> None:
    stages = load_stages(ROOT / "dvc.yaml")  # ${section.key} paths resolved: raw templates share no edges
    order = stage_order(ROOT / "dvc.yaml")
    assert sorted(order) == sorted(stages)
    graph = stage_graph(stages)
    for stage, ups in graph.items():
        for up in ups:
            assert order.index(up) < order.index(stage), (up, stage)
    assert order[0] == "ingest" and order.index("pretrain") < order.index("sft") < order.index("evaluate")
    # dvc.yaml lists stages in any order; a dep inside an out dir (or an out inside a dep dir) is an edge
    doc = {
        "stages": {
            "c": {"cmd": "x", "deps": ["b/out/file.txt"], "outs": ["c.txt"]},
            "b": {"cmd": "x", "deps": ["a.txt"], "outs": ["b/out"]},
            "a": {"cmd": "x", "deps": ["raw"], "outs": ["a.txt"]},
        }
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(doc))
    assert stage_order(tmp_path / "dvc.yaml") == ["a", "b", "c"]
    assert stage_order(tmp_path / "dvc.yaml", ["b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="cycle"):
        topo_order({"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match="unknown stage"):
        stage_order(tmp_path / "dvc.yaml", ["nope"])


@pytest.fixture
def tiny_dvc(tmp_path: Path) -> Path:
    import subprocess

    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "in.txt").write_text("hello\n")
    doc = {
        "stages": {
            "copy": {
                "cmd": "python -c \"open('out.txt','w').write(open('in.txt').read().upper())\"",
                "deps": ["in.txt"],
                "outs": ["out.txt"],
            },
            "boom": {
                "cmd": "python -c \"import sys; print('bad input here'); sys.exit(3)\"",
                "deps": ["out.txt"],
                "outs": ["never.txt"],
            },
        }
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_run_stage_waits_for_dvc_lock_then_skips_unchanged(tiny_dvc: Path) -> None:
    import zc.lockfile

    lines: list[str] = []
    lock = zc.lockfile.LockFile(str(tiny_dvc / ".dvc" / "tmp" / "lock"))  # DVC's own repo lock, held by "someone"
    threading.Timer(6.0, lock.close).start()
    t0 = time.monotonic()
    res = run_stage("copy", tiny_dvc, lines.append, lock_timeout_s=120, lock_poll_s=1)
    assert res.status == "ran" and res.lock_waits >= 1 and time.monotonic() - t0 >= 6.0
    assert (tiny_dvc / "out.txt").read_text() == "HELLO\n"
    assert any("lock" in ln.lower() for ln in lines)
    assert run_stage("copy", tiny_dvc, lines.append).status == "skipped"  # unchanged: DVC skips it
    lock = zc.lockfile.LockFile(str(tiny_dvc / ".dvc" / "tmp" / "lock"))
    try:
        with pytest.raises(LockTimeout, match="copy"):
            run_stage("copy", tiny_dvc, lines.append, lock_timeout_s=2, lock_poll_s=1)
    finally:
        lock.close()
    with pytest.raises(StageFailed, match="'boom'") as e:
        run_stage("boom", tiny_dvc, lines.append)
    assert any("bad input here" in ln for ln in e.value.tail)


# --- deployments ----------------------------------------------------------------------------------------------


def test_deployments_registered_with_cron_schedules(prefect_env, tmp_path: Path) -> None:
    from flows.deploy import register

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text(
        yaml.safe_dump(
            {"orchestration": {"rebuild_cron": "15 1 * * *", "retrain_cron": "0 3 * * 1", "timezone": "Europe/Berlin"}}
        )
    )
    ids = register(str(repo))
    assert set(ids) == {"rebuild", "retrain"}

    async def read(client):
        return [await client.read_deployment_by_name(f"{n}/{n}") for n in ("rebuild", "retrain")]

    rebuild_dep, retrain_dep = _client_call(read)
    assert str(retrain_dep.id) == ids["retrain"]
    crons = {
        d.name: [(s.schedule.cron, s.schedule.timezone, s.active) for s in d.schedules]
        for d in (rebuild_dep, retrain_dep)
    }
    assert crons == {
        "rebuild": [("15 1 * * *", "Europe/Berlin", True)],
        "retrain": [("0 3 * * 1", "Europe/Berlin", True)],
    }
    assert retrain_dep.parameters["repo"] == str(repo.resolve())
    # re-registering updates in place (same ids), a changed cron replaces the schedule
    (repo / "params.yaml").write_text(yaml.safe_dump({"orchestration": {"retrain_cron": "30 4 * * 2"}}))
    assert register(str(repo))["retrain"] == ids["retrain"]
    dep = _client_call(lambda c: c.read_deployment_by_name("retrain/retrain"))
    assert [s.schedule.cron for s in dep.schedules] == ["30 4 * * 2"]


# --- cloud_train (dry run) -------------------------------------------------------------------------------------


def test_cloud_train_dry_run_commands(prefect_env, monkeypatch) -> None:
    from flows.cloud_train import cloud_train

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak-me")
    res = cloud_train(stage="pretrain", repo=str(ROOT), dry_run=True, profile="gpu-h100")
    launch = res["launch"]
    assert launch[1:7] == ["jobs", "launch", "-y", "-d", "-n", "tutorforge-pretrain"]
    assert "PROFILE=gpu-h100" in launch and launch[-1] == "sky/pretrain.yaml"
    assert "--secret" in launch and "AWS_SECRET_ACCESS_KEY" in launch
    assert "do-not-leak-me" not in " ".join(launch)
    set_prof, pull, repro = res["bring_back"]
    assert set_prof[-3:] == ["set-profile", "pretrain", "gpu-h100"]
    assert pull[1:] == ["pull", "--run-cache"]
    assert repro[1:] == ["repro", "--pull", "--single-item", "pretrain"]
    assert res["plan"]["preset"] == "350m" and res["plan"]["options"][0]["gpu"] == "H100"
    assert res["status"].startswith("SUCCEEDED")


# --- the real rebuild / retrain ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_rebuild_fails_naming_stage_then_resumes_from_cache(prefect_env, tmp_path: Path) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.rebuild import rebuild
    from flows.retrain import retrain

    repo = make_repo(tmp_path / "repo")
    order = stage_order(repo / "dvc.yaml")
    set_param(repo, "tokenizer", "no_such_knob", 1)  # load_config refuses unknown keys
    state = rebuild(repo=str(repo), return_state=True)
    assert state.is_failed()
    assert "'tokenizer'" in state.message or "tokenizer" in str(state.result(raise_on_failure=False))
    assert (repo / "artifacts/dataset/data_report.json").exists()  # stages before it ran for real
    assert not (repo / "artifacts/tokenizer").exists()

    set_param(repo, "tokenizer", "no_such_knob", None)
    state = rebuild(repo=str(repo), return_state=True)
    assert state.is_completed(), state.message
    statuses = state.result()
    assert list(statuses) == order
    before = order[: order.index("tokenizer")]
    assert all(statuses[s] == "skipped" for s in before), statuses  # resumed from DVC's cache
    assert all(statuses[s] == "ran" for s in order[order.index("tokenizer") :]), statuses

    flow_run_id = state.state_details.flow_run_id

    async def task_runs(client):
        for _ in range(60):  # task run states reach the server asynchronously (events)
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if len(runs) >= len(order) and all(r.state and r.state.is_completed() for r in runs):
                return runs
            await asyncio.sleep(1)
        return runs

    runs = _client_call(task_runs)
    assert sorted(r.name for r in runs) == sorted(f"dvc-{s}" for s in order)

    async def artifacts(client):
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )

    arts = {a.key: a for a in _client_call(artifacts)}
    assert {"tutorforge-eval-report", "tutorforge-metrics", "tutorforge-rebuild-stages"} <= set(arts)
    assert arts["tutorforge-eval-report"].data == (repo / "artifacts/evaluate/report.md").read_text()
    assert "sft.bench.answer_loss" in str(arts["tutorforge-metrics"].data)

    # retrain on the same copy: Label Studio unset -> pull/push skipped; everything cached; registry gate decides
    summary = retrain(repo=str(repo))
    assert summary["annotations"]["skipped"] and summary["push"]["skipped"]
    assert set(summary["stages"].values()) == {"skipped"}
    assert summary["promotion"]["version"] == "v1"
    assert summary["promotion"]["promoted"] is True  # no production yet: the gate has nothing to beat
