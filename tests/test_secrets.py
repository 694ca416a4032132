"""Secrets stay out of everything a run leaves behind: params, dvc.lock, stage outputs, logs, Prefect, the registry.

Fake, distinctive values for every credential the project reads from the environment (tests/support/leaks.py) are
planted, then the real paths that handle them run on a throwaway copy of the project (tests/support/repo.py, one
textbook, tiny params):
- the `rebuild` Prefect flow (real Prefect API) reproducing ingest -> segment -> synth with an OpenAI-compatible
  teacher that takes TUTORFORGE_TEACHER_API_KEY; then again against a teacher that rejects the key (HTTP 401, the
  key echoed back in its body and headers, tests/support/rejecting_server.py);
- the `retrain` flow against a Label Studio that rejects LABEL_STUDIO_API_KEY the same way;
- the register DVC stage to moto S3, then `tutorforge registry show --verify | promote | download | history`;
- `tutorforge remote setup` + `dvc push` to moto S3;
- an S3 that rejects the secret key (moto with IAM auth: SignatureDoesNotMatch) under `tutorforge registry list` and
  the register stage;
- `cloud_train` in dry-run mode.
Then every file of the copy (params.yaml, dvc.lock, .dvc/, stage outputs, the download), every stdout/stderr, every
S3 object, the logs, artifacts and states of those flow runs and the Prefect server's own files are scanned. Positive
controls prove each key really went where it belongs (the servers logged it) and the scanned channels hold the run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.chat_endpoint import chat_endpoint
from tests.support.leaks import LeakScan, plant_secrets
from tests.support.registry_data import make_artifacts, new_bucket
from tests.support.rejecting_server import rejecting_server
from tests.support.repo import make_repo
from tests.support.servers import moto_s3
from tutorforge.core.config import yaml_load
from tutorforge.orchestration.commands import cli_argv
from tutorforge.orchestration.dvc_runner import run_stage, subprocess_env

pytestmark = pytest.mark.integration
DVC = str(Path(sys.executable).parent / "dvc")


@pytest.fixture
def prefect_env(prefect_server, monkeypatch):
    """PREFECT_API_URL/PREFECT_HOME of the test server, in the environment and in Prefect's settings (as
    tests/test_flows.py does)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    for k, v in prefect_server.env.items():
        monkeypatch.setenv(k, v)
    env = prefect_server.env
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_HOME: env["PREFECT_HOME"]}):
        yield prefect_server


class Runs:
    """Every command run, with its output kept for the scan."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.outputs: list[tuple[str, str]] = []

    def sh(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(argv, cwd=self.cwd, env=env or subprocess_env(), capture_output=True, text=True, timeout=300)
        self.outputs.append((" ".join(argv[1:6]), r.stdout + r.stderr))
        return r

    def ok(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        r = self.sh(argv, env)
        assert r.returncode == 0, f"{argv}: {r.stdout}\n{r.stderr}"
        return r


def _update_params(repo: Path, section: str, key: str, values: dict) -> None:
    params = yaml_load((repo / "params.yaml").read_text())
    params[section][key].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _prefect_records(flow_run_ids: list, wanted: list[str]) -> list[tuple[str, str]]:
    """(where, text) of every log line, artifact and state message of the flow runs (and their task runs); waits
    until every `wanted` text has reached the server's logs (they are shipped asynchronously)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)

    async def read() -> tuple[list[tuple[str, str]], str]:
        async with get_client() as client:
            for _ in range(60):
                logs = []
                while True:
                    page = await client.read_logs(
                        LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)), limit=200, offset=len(logs)
                    )
                    logs += page
                    if len(page) < 200:
                        break
                text = "\n".join(lg.message for lg in logs)
                if all(w in text for w in wanted):
                    break
                await asyncio.sleep(1)
            out = [(f"prefect log {lg.flow_run_id}", lg.message) for lg in logs]
            arts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
            )
            out += [(f"prefect artifact {a.key}", json.dumps([a.data, a.description], default=str)) for a in arts]
            for fid in flow_run_ids:
                fr = await client.read_flow_run(fid)
                out.append((f"prefect flow run {fid}", json.dumps(fr.model_dump(mode="json"), default=str)))
            trs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)))
            out += [(f"prefect task run {t.name}", json.dumps(t.model_dump(mode="json"), default=str)) for t in trs]
            return out, text

    out, text = asyncio.run(read())
    missing = [w for w in wanted if w not in text]
    assert not missing, f"never reached the Prefect logs: {missing}"
    return out


@pytest.mark.slow
def test_no_secret_in_params_lock_outputs_logs_registry_or_prefect(
    s3_server, prefect_env, tmp_path, monkeypatch, capfd
):
    import boto3

    from flows.cloud_train import cloud_train
    from flows.rebuild import rebuild
    from flows.retrain import retrain

    secrets = plant_secrets(monkeypatch)
    monkeypatch.setenv("TUTORFORGE_LS_ATTEMPTS", "1")
    repo = make_repo(tmp_path / "repo")
    for pdf in (repo / "data/textbooks").glob("*.pdf"):  # one textbook keeps ingest's OCR to seconds
        if pdf.name != "biology.pdf":
            pdf.unlink()
    teacher = {"backend": "openai", "model": "tiny-teacher", "max_sections": 2, "tasks": ["qa", "socratic"]}
    _update_params(repo, "synth", "teacher", {**teacher, "max_retries": 0, "concurrency": 2, "timeout_s": 20.0})
    runs, flow_runs, scan = Runs(repo), [], LeakScan(secrets)
    servers = tmp_path / "servers"  # their request logs hold the keys by design: the positive controls

    # 1. rebuild -> synth with a teacher that takes the key
    with chat_endpoint(servers / "teacher") as endpoint:
        monkeypatch.setenv("TUTORFORGE_TEACHER_BASE_URL", endpoint.url)
        state = rebuild(repo=str(repo), targets=["synth"], return_state=True)
        assert state.is_completed(), state.message
        assert state.result()["synth"] == "ran"
        flow_runs.append(state.state_details.flow_run_id)
        assert f"Bearer {secrets['TUTORFORGE_TEACHER_API_KEY']}" in {r["auth"] for r in endpoint.requests()}
    assert json.loads((repo / "artifacts/synth/report.json").read_text())["teacher"]["outputs"] > 0
    assert (repo / "artifacts/synth/examples.jsonl").stat().st_size > 0
    scan.tree(repo)  # now: the failing run below makes DVC remove synth's outputs

    # 2. the same stage against a teacher that rejects the key and echoes it back
    with rejecting_server(servers / "teacher-401") as bad:
        monkeypatch.setenv("TUTORFORGE_TEACHER_BASE_URL", f"{bad.url}/v1")
        _update_params(repo, "synth", "teacher", {"temperature": 0.5})  # a changed param: DVC runs synth again
        state = rebuild(repo=str(repo), targets=["synth"], return_state=True)
        assert state.is_failed() and "synth" in str(state.message)
        flow_runs.append(state.state_details.flow_run_id)
        key = secrets["TUTORFORGE_TEACHER_API_KEY"]
        assert bad.requests() and all(r["headers"].get("Authorization") == f"Bearer {key}" for r in bad.requests())

    # 3. retrain against a Label Studio that rejects the token and echoes it back
    with rejecting_server(servers / "label-studio") as ls:
        monkeypatch.setenv("LABEL_STUDIO_URL", ls.url)
        state = retrain(repo=str(repo), return_state=True)
        assert state.is_failed() and "Label Studio pull failed" in str(state.message)
        flow_runs.append(state.state_details.flow_run_id)
        assert f"Token {secrets['LABEL_STUDIO_API_KEY']}" in {r["headers"].get("Authorization") for r in ls.requests()}
        monkeypatch.delenv("LABEL_STUDIO_URL")

    # 4. the register stage (real `dvc repro`) to moto S3 over stand-in upstream outputs, then the registry CLI
    src = make_artifacts(repo / "artifacts", 1.8)
    encoder = repo / "artifacts/vision/encoder"  # the diagram encoder register uploads too: a stand-in folder
    encoder.mkdir(parents=True, exist_ok=True)
    (encoder / "config.json").write_text(json.dumps({"model_type": "siglip"}))
    (repo / "artifacts/evaluate").mkdir(parents=True, exist_ok=True)
    shutil.copy(src["metrics.json"], repo / "artifacts/evaluate/metrics.json")
    (repo / "artifacts/dataset").mkdir(parents=True, exist_ok=True)
    (repo / "artifacts/dataset/data_report.json").write_text(json.dumps({"sft": {"train": {"records": 3}}}))
    bucket = new_bucket(s3_server)
    monkeypatch.setenv("TUTORFORGE_REGISTRY", f"s3://{bucket}/registry")
    monkeypatch.setenv("TUTORFORGE_S3_ENDPOINT_URL", s3_server.url)
    lines: list[str] = []
    assert run_stage("register", repo, lines.append, lock_poll_s=1).status == "ran", lines
    runs.outputs.append(("dvc repro register", "\n".join(lines)))
    runs.ok(cli_argv("registry", "show", "v1", "--verify"))
    runs.ok(cli_argv("registry", "promote", "v1"))
    runs.ok(cli_argv("registry", "download", "production", str(repo / "downloaded")))
    runs.ok(cli_argv("registry", "history"))

    # 5. the DVC remote on moto S3: setup writes .dvc/config.local, push uploads the cache
    runs.ok(cli_argv("remote", "setup", "--url", f"s3://{bucket}/dvc", "--endpoint-url", s3_server.url))
    runs.ok([DVC, "push", "-q"])

    # 6. an S3 that rejects the secret key: moto with IAM auth, a real access key id, our (wrong) secret key
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "2")  # only the two IAM calls below go unauthenticated
    with moto_s3(servers / "moto-auth") as strict:
        monkeypatch.delenv("INITIAL_NO_AUTH_ACTION_COUNT")
        iam = boto3.client("iam", endpoint_url=strict.url)
        iam.create_user(UserName="tutorforge")
        key_id = iam.create_access_key(UserName="tutorforge")["AccessKey"]["AccessKeyId"]
        env = subprocess_env({"AWS_ACCESS_KEY_ID": key_id, "TUTORFORGE_S3_ENDPOINT_URL": strict.url})
        env["TUTORFORGE_REGISTRY"] = "s3://tf-strict/registry"
        env.pop("AWS_SESSION_TOKEN")  # a long-term key: the secret key itself is what S3 checks, and rejects
        r = runs.sh(cli_argv("registry", "list"), env)
        assert r.returncode == 1 and "SignatureDoesNotMatch" in r.stderr, r.stdout + r.stderr
        r = runs.sh([sys.executable, "-m", "stages.register", "-S", f"register.output={tmp_path}/never.json"], env)
        assert r.returncode != 0 and "SignatureDoesNotMatch" in r.stdout + r.stderr, r.stdout + r.stderr

    # 7. cloud_train dry run: secrets are passed by name only
    state = cloud_train(stage="pretrain", repo=str(repo), dry_run=True, profile="gpu-h100", return_state=True)
    assert state.is_completed(), state.message
    flow_runs.append(state.state_details.flow_run_id)

    # --- the scan
    records = _prefect_records(flow_runs, ["HTTP 401", "refused the token", "stage synth: ran"])
    for where, text in records + runs.outputs:
        scan.text(where, text)
    captured = capfd.readouterr()
    scan.text("pytest stdout", captured.out)
    scan.text("pytest stderr", captured.err)
    scan.tree(tmp_path, skip=(servers / "teacher", servers / "teacher-401", servers / "label-studio"))
    prefect_home = Path(prefect_env.env["PREFECT_HOME"])
    scan.tree(prefect_home)  # the server's database (logs, states, events, artifacts) and any stored results
    s3 = boto3.client("s3", endpoint_url=s3_server.url)
    for b in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                scan.bytes(f"s3://{b['Name']}/{o['Key']}", s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read())
    assert scan.hits == [], scan.hits

    # the scanned channels did carry the run: files, objects, logs, the rejections' error messages
    for f in ("params.yaml", "dvc.lock", ".dvc/config.local", "artifacts/register/registration.json", "downloaded"):
        assert (repo / f).exists(), f
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert {"ingest", "segment", "synth", "register"} <= set(lock["stages"])
    db = b"".join(p.read_bytes() for p in prefect_home.rglob("*") if p.is_file())
    assert b"refused the token" in db and b"HTTP 401" in db
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith("lineage.json") for k in objects) and any(k.startswith("dvc/") for k in objects)
    assert scan.scanned > 100, scan.scanned


@pytest.mark.parametrize("status", [401, 403, 400, 404, 500, 429])
def test_label_studio_errors_never_quote_the_token(tmp_path, monkeypatch, status):
    """`tutorforge label pull` against a server that answers `status` and echoes the token back (body and header):
    the one-line error names the problem, never the token, whatever the server puts in its reply."""
    secrets = plant_secrets(monkeypatch)
    monkeypatch.setenv("TUTORFORGE_LS_ATTEMPTS", "2")
    monkeypatch.setenv("TUTORFORGE_LS_BASE_DELAY", "0.01")
    shutil.copy(Path(__file__).resolve().parent.parent / "params.yaml", tmp_path / "params.yaml")
    with rejecting_server(tmp_path / "server", status) as server:
        monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
        r = Runs(tmp_path).sh(cli_argv("label", "pull"))
        assert f"Token {secrets['LABEL_STUDIO_API_KEY']}" in {
            q["headers"].get("Authorization") for q in server.requests()
        }
    assert r.returncode == 1 and f"Label Studio at {server.url}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    scan = LeakScan(secrets)
    scan.text("label pull output", r.stdout + r.stderr)
    assert scan.hits == [], r.stderr
