"""Model registry (tutorforge/registry/{store,registry,gate,register}.py, stages/register.py, `tutorforge registry` /
`remote`, tutorforge/orchestration/dvc_remote.py) against a real moto S3 server and the local-dir backend:
register/list/show, idempotency, promotion gate, rollback, history, racing registrations, a crash mid-upload,
corrupted objects, alias CAS conflicts, no secrets in objects, DVC push/pull. Faults are injected by store wrappers
(tests/support/registry_faults.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.registry_faults import CrashAfterUploads, InjectedCrash, InterferingStore
from tutorforge.orchestration.dvc_remote import RemoteSpec, mirror_checkpoints, setup_dvc_remote
from tutorforge.registry.gate import promote
from tutorforge.registry.registry import Registry, VersionConflict
from tutorforge.registry.store import LocalStore, RegistryError, S3Store, Transfer, VerificationError

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
GATE = [{"metric": "sft.answer_loss", "direction": "lower", "margin": 0.02}]
SMALL = Transfer(multipart_threshold_mb=5, multipart_chunksize_mb=5, max_concurrency=4, max_files_parallel=4)


def make_artifacts(root: Path, answer_loss: float = 2.0, tag: str = "a", big: int = 0) -> dict[str, Path]:
    """Tiny stand-ins for the HF dirs + metrics.json; `big` adds a file of that many bytes (multipart on S3)."""
    root.mkdir(parents=True, exist_ok=True)
    src = {}
    for d in ("sft/merged", "sft/adapter", "pretrain/model", "tokenizer"):
        p = root / d
        p.mkdir(parents=True, exist_ok=True)
        (p / "config.json").write_text(json.dumps({"dir": d, "tag": tag}))
        (p / "model.safetensors").write_bytes(os.urandom(2048))
        src[d] = p
    if big:
        (root / "sft/merged/big.safetensors").write_bytes(os.urandom(big))
    metrics = {
        "base": {"answer_loss": 3.0, "perplexity": 50.0},
        "sft": {"answer_loss": answer_loss, "perplexity": 40.0},
        "delta": {"answer_loss": answer_loss - 3.0},
    }
    (root / "metrics.json").write_text(json.dumps(metrics))
    src["metrics.json"] = root / "metrics.json"
    return src


def new_bucket(server) -> str:
    import boto3

    name = f"tf-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def open_reg(request, tmp_path):
    """A factory of Registry objects on ONE fresh store (local dir or a new moto bucket)."""
    if request.param == "local":
        loc = tmp_path / "registry"
        return lambda **kw: Registry(LocalStore(loc, SMALL), **kw)
    server = request.getfixturevalue("s3_server")
    uri = f"s3://{new_bucket(server)}/team/registry"
    return lambda **kw: Registry(S3Store(uri, server.url, SMALL), **kw)


def test_register_list_download_idempotent(open_reg, tmp_path):
    reg = open_reg()
    src1 = make_artifacts(tmp_path / "a1", 2.0, big=6 * 2**20 if isinstance(reg.store, S3Store) else 0)
    v, created = reg.register("tutor", src1, {"README.md": b"card"}, lineage_summary={"git_commit": "abc"})
    assert (v, created) == ("v1", True)
    assert reg.register("tutor", src1, {"README.md": b"card changed"}) == ("v1", False)  # same payload
    v2, created2 = reg.register("tutor", make_artifacts(tmp_path / "a2", 1.9, tag="b"))
    assert (v2, created2) == ("v2", True)
    assert reg.models() == ["tutor"] and reg.versions("tutor") == ["v1", "v2"]
    m = reg.manifest("tutor", "v1")
    assert {"README.md", "metrics.json", "sft/merged/config.json", "tokenizer/config.json"} <= set(m["files"])
    assert m["lineage"] == {"git_commit": "abc"} and m["version"] == "v1"
    assert reg.verify("tutor", "v1") == []
    out = reg.download("tutor", "v1", tmp_path / "dl")
    for rel in m["files"]:
        if rel != "README.md":
            local = (
                src1["metrics.json"] if rel == "metrics.json" else src1[rel.rsplit("/", 1)[0]] / rel.rsplit("/", 1)[1]
            )
            assert (out / rel).read_bytes() == local.read_bytes(), rel
    with pytest.raises(RegistryError, match="not empty"):
        reg.download("tutor", "v1", tmp_path / "dl")
    with pytest.raises(VersionConflict, match="already registered"):
        reg.register("tutor", make_artifacts(tmp_path / "a3", 1.5, tag="c"), version="v1")


def test_promote_gate_rollback_history(open_reg, tmp_path):
    reg = open_reg()
    for i, loss in enumerate((2.0, 1.9, 1.89)):
        reg.register("tutor", make_artifacts(tmp_path / f"a{i}", loss, tag=str(i)))
    floor = [{**GATE[0], "threshold": 1.95}]
    ok, reasons = promote(reg, "tutor", "v1", floor)  # first production: absolute floor only
    assert not ok and "fails threshold" in reasons[0] and reg.alias("tutor", "production") is None
    assert promote(reg, "tutor", "v1", GATE)[0]  # no floor, no production yet -> promoted
    ok, reasons = promote(reg, "tutor", "v2", GATE)
    assert ok and "beats production" in reasons[0]
    ok, reasons = promote(reg, "tutor", "v3", GATE)  # 1.89 vs 1.9: improvement 0.01 < margin 0.02
    assert not ok and "does not beat" in reasons[0]
    assert reg.resolve("tutor", "production") == "v2"
    assert reg.rollback("tutor", "production", reason="bad answers")["version"] == "v1"
    with pytest.raises(RegistryError, match="no previous version"):
        reg.rollback("tutor", "production")
    hist = reg.history("tutor", "production")
    assert [(h["from"], h["to"], h["action"]) for h in hist] == [
        (None, "v1", "promote"),
        ("v1", "v2", "promote"),
        ("v2", "v1", "rollback"),
    ]
    assert hist[-1]["reason"] == "bad answers" and all(h["by"] and h["at"] for h in hist)


def test_race_for_the_same_version(open_reg, tmp_path):
    srcs = [make_artifacts(tmp_path / f"r{i}", 2.0 - i / 10, tag=f"r{i}") for i in range(2)]
    barrier, results = threading.Barrier(2), {}

    def go(i: int) -> None:
        reg = open_reg()
        barrier.wait()
        try:
            results[i] = reg.register("tutor", srcs[i], version="v1")
        except VersionConflict as e:
            results[i] = e

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    wins = [i for i, r in results.items() if r == ("v1", True)]
    losses = [r for r in results.values() if isinstance(r, VersionConflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "v1" in str(losses[0])
    reg = open_reg()
    assert reg.versions("tutor") == ["v1"] and reg.verify("tutor", "v1", deep=True) == []
    winner_tag = json.loads(reg.read_file("tutor", "v1", "sft/merged/config.json"))["tag"]
    assert winner_tag == f"r{wins[0]}"


def test_crash_mid_upload_leaves_nothing_visible(open_reg, tmp_path):
    reg = open_reg()
    crashing = CrashAfterUploads(reg.store, 3)
    with pytest.raises(InjectedCrash):
        Registry(crashing).register("tutor", make_artifacts(tmp_path / "c", 2.0))
    assert crashing.started == 3 and reg.versions("tutor") == []
    assert any("/objects/" in k for k in reg.store.list("models/tutor/"))  # orphans exist, but are invisible
    with pytest.raises(RegistryError):
        reg.resolve("tutor", "v1")
    with pytest.raises(VersionConflict, match="being registered"):  # fresh claim of the crashed upload
        reg.register("tutor", make_artifacts(tmp_path / "d", 1.8, tag="d"), version="v1")
    v, created = open_reg(claim_ttl_s=0).register("tutor", make_artifacts(tmp_path / "e", 1.7, tag="e"))
    assert (v, created) == ("v1", True)  # stale claim taken over
    assert reg.verify("tutor", "v1", deep=True) == []


def test_corrupted_object_is_refused_by_download(open_reg, tmp_path):
    from typer.testing import CliRunner

    from tutorforge.cli.app import app

    reg = open_reg()
    reg.register("tutor", make_artifacts(tmp_path / "a", 2.0))
    m = reg.manifest("tutor", "v1")
    key = f"models/tutor/v1/{m['objects']}/sft/merged/model.safetensors"
    reg.store.upload_file(
        _write(tmp_path / "evil", os.urandom(m["files"]["sft/merged/model.safetensors"]["size"])), key
    )
    dest = tmp_path / "out" / "model"
    with pytest.raises(VerificationError, match="corrupted"):
        reg.download("tutor", "v1", dest)
    assert not dest.exists() and list((tmp_path / "out").iterdir()) == []  # temp dir removed too
    params = _params(tmp_path)
    env = {"TUTORFORGE_S3_ENDPOINT_URL": reg.store.endpoint_url} if isinstance(reg.store, S3Store) else {}
    res = CliRunner().invoke(
        app,
        ["registry", "download", "v1", str(dest), "--registry", reg.store.uri(""), "--params", str(params)],
        env=env,
    )
    assert res.exit_code == 1 and "corrupted" in res.output and not dest.exists()
    res = CliRunner().invoke(
        app, ["registry", "show", "v1", "--verify", "--registry", reg.store.uri(""), "--params", str(params)], env=env
    )
    assert res.exit_code == 1 and "failed verification" in res.output


def test_alias_cas_conflict_retried_or_reported(open_reg, tmp_path):
    racy = InterferingStore(open_reg().store)  # its callback is the other writer, between our read and our CAS write
    reg, other = Registry(racy, alias_retries=3), open_reg()
    for i in range(3):
        reg.register("tutor", make_artifacts(tmp_path / f"a{i}", 2.0 - i / 10, tag=str(i)))
    reg.point("tutor", "staging", "v1", "init")
    interfered = []

    def once(name: str, alias: str) -> None:  # a concurrent writer lands between our read and our write
        if not interfered:
            interfered.append(1)
            other.point(name, alias, "v2", "concurrent")

    racy.before_alias_put = once
    new = reg.point("tutor", "staging", "v3", "mine")
    assert new["version"] == "v3" and new["previous"] == "v2"  # re-read after the 412, then won
    assert [h["to"] for h in reg.history("tutor", "staging")] == ["v1", "v2", "v3"]
    reg.alias_retries = 1
    racy.before_alias_put = lambda name, alias: other.point(
        name, alias, other.alias(name, alias)["stack"][-2], "always in the way"
    )
    with pytest.raises(RegistryError, match="gave up after 2"):
        reg.point("tutor", "staging", "v1", "mine again")


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
    assert "## Intended use" in card and "| answer_loss | 3.0 | 1.8 |" in card
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
        ["registry", *a, "--registry", uri, "--params", str(_params(tmp_path))],
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


@pytest.mark.slow
def test_real_hf_model_roundtrip(s3_server, tmp_path):
    """A real save_pretrained model survives register -> download -> from_pretrained."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    src = make_artifacts(tmp_path / "a")
    shutil.rmtree(src["sft/merged"])
    LlamaForCausalLM(cfg).save_pretrained(src["sft/merged"])
    reg = Registry(S3Store(f"s3://{new_bucket(s3_server)}/r", s3_server.url))
    reg.register("tutor", src)
    out = reg.download("tutor", "v1", tmp_path / "dl")
    model = LlamaForCausalLM.from_pretrained(out / "sft/merged")
    ref = LlamaForCausalLM.from_pretrained(src["sft/merged"])
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(model(ids).logits, ref(ids).logits)


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


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _params(tmp_path: Path) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"register": {"name": "tutor", "gate": GATE}}))
    return p
