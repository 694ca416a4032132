"""Registry protocol (tutorforge/registry/{store,registry,aliases,gate}.py) on both backends, the local dir and a
real moto S3 server: register/list/download, idempotency, promotion gate, rollback, history, racing registrations,
a crash mid-upload, corrupted objects, alias CAS conflicts, a real HF model round trip. Faults are injected by store
wrappers (tests/support/registry_faults.py); the CLI, the register stage and the DVC remote are in
test_registry_cli.py."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.support.registry_data import GATE, make_artifacts, new_bucket, write_params
from tests.support.registry_faults import CrashAfterUploads, InjectedCrash, InterferingStore
from tutorforge.registry.gate import promote
from tutorforge.registry.registry import Registry, VersionConflict
from tutorforge.registry.store import LocalStore, RegistryError, S3Store, Transfer, VerificationError

pytestmark = pytest.mark.integration
SMALL = Transfer(multipart_threshold_mb=5, multipart_chunksize_mb=5, max_concurrency=4, max_files_parallel=4)


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
    params = write_params(tmp_path)
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


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
