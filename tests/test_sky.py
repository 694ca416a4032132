"""SkyPilot task YAMLs validated offline (SkyPilot's own schema in its venv + our checks) and the plan arithmetic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tutorforge.orchestration.cloud_jobs import launch_cmd, set_profile, upstream
from tutorforge.orchestration.skypilot import SKY_PYTHON, check_task, llama_params, plan, sky_validate
from tutorforge.training.pretrain import PRESETS

ROOT = Path(__file__).resolve().parent.parent
YAMLS = [ROOT / "sky" / "pretrain.yaml", ROOT / "sky" / "sft.yaml"]
needs_sky = pytest.mark.skipif(not SKY_PYTHON.exists(), reason="SkyPilot venv missing (TF_WITH_SERVERS=1 bootstrap)")


@needs_sky
def test_yamls_pass_skypilot_schema_and_a_broken_one_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    task = yaml.safe_load(YAMLS[0].read_text())
    task["resources"]["use_spotty"] = True  # misspelled key: SkyPilot's schema refuses it
    bad.write_text(yaml.safe_dump(task))
    ok, out = sky_validate(YAMLS)
    assert ok, out
    assert "nodes 2" in out and "H100" in out
    ok, out = sky_validate([bad])
    assert not ok and "use_spotty" in out


def test_our_checks_pass_on_the_shipped_yamls() -> None:
    for y in YAMLS:
        assert check_task(y, ROOT / "params.yaml", ROOT / "dvc.yaml") == [], y
    subprocess.run(["bash", "-n", str(ROOT / "sky" / "train.sh")], check=True)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda t: t["resources"].update(accelerators={"H1000:8": None}), "unknown accelerator 'H1000'"),
        (lambda t: next(iter(t["file_mounts"].values())).update(source="s4://bucket/x"), "not an s3:// URL"),
        (lambda t: t.update(run="bash sky/train.sh pretrian $PROFILE"), "stage 'pretrian'"),
        (lambda t: t["envs"].update(PROFILE="gpu-tpu"), "PROFILE 'gpu-tpu' not in pretrain.profiles"),
        (lambda t: t["secrets"].update(HF_TOKEN="hf_abc123"), "secrets.HF_TOKEN holds a value"),
        (lambda t: t["envs"].update(WANDB_API_KEY="xyz"), "envs.WANDB_API_KEY holds a value"),
        (lambda t: t.update(file_mounts={}), "no bucket mounted at artifacts/pretrain/checkpoints"),
    ],
)
def test_our_checks_catch_what_skypilot_accepts(tmp_path: Path, mutate, expect: str) -> None:
    task = yaml.safe_load(YAMLS[0].read_text())
    mutate(task)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(task))
    problems = check_task(path, ROOT / "params.yaml", ROOT / "dvc.yaml")
    assert any(expect in p for p in problems), problems


def test_param_counts_match_known_models() -> None:
    # tiny at vocab 8192, by hand: emb 8192*256 + 4 layers * (4*256^2 + 3*256*768 + 2*256) + final norm 256
    assert llama_params(PRESETS["tiny"], 8192) == 8192 * 256 + 4 * (4 * 256**2 + 3 * 256 * 768 + 512) + 256
    assert llama_params(PRESETS["1b"], 32000) == 1_100_048_384  # TinyLlama-1.1B's published count (GQA, untied)


def test_plan_arithmetic(tmp_path: Path) -> None:
    params = {
        "tokenizer": {"vocab_size": 8192},
        "pretrain": {
            "preset": "tiny",
            "profile": "cpu",
            "block_size": 256,
            "batch_size": 8,
            "grad_accum": 1,
            "max_steps": 300,
            "profiles": {"cpu": {}, "g": {"block_size": 1024, "batch_size": 4, "grad_accum": 2, "max_steps": 1000}},
        },
        "cloud": {
            "mfu": 0.5,
            "prices_as_of": "test",
            "gpus": {
                "H100": {"tflops": 1000, "on_demand": 4.0, "spot": 1.0},
                "L4": {"tflops": 100, "on_demand": 1.0, "spot": 0.5},
            },
        },
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    task = {
        "resources": {"accelerators": {"H100:8": None, "L4": 4}},
        "num_nodes": 2,
        "envs": {"PROFILE": "g"},
        "run": "bash sky/train.sh pretrain $PROFILE",
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(task))
    p = plan(tmp_path / "t.yaml", tmp_path / "params.yaml")
    n = llama_params(PRESETS["tiny"], 8192)
    assert (p["stage"], p["profile"], p["params"], p["steps"], p["seq_len"]) == ("pretrain", "g", n, 1000, 1024)
    h100, l4 = p["options"]
    tokens = 1000 * 4 * 2 * 1024 * 16  # steps x batch x accum x seq x (2 nodes x 8)
    assert (h100["gpus"], h100["tokens"], l4["gpus"], l4["tokens"]) == (16, tokens, 8, tokens // 2)
    gpu_h = 6 * n * tokens / (1000e12 * 0.5) / 3600
    assert h100["gpu_hours"] == pytest.approx(gpu_h)
    assert h100["wall_hours"] == pytest.approx(gpu_h / 16)
    assert (h100["cost_on_demand"], h100["cost_spot"]) == (pytest.approx(4 * gpu_h), pytest.approx(gpu_h))
    assert l4["gpu_hours"] == pytest.approx(6 * n * (tokens // 2) / (100e12 * 0.5) / 3600)
    assert (
        plan(tmp_path / "t.yaml", tmp_path / "params.yaml", profile="cpu")["options"][0]["tokens"] == 300 * 8 * 256 * 16
    )
    task["resources"]["accelerators"] = "TPU-v5:8"
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(task))
    with pytest.raises(ValueError, match="TPU-v5"):
        plan(tmp_path / "t.yaml", tmp_path / "params.yaml")


def test_set_profile_edits_one_line_and_upstream(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", p)
    before = p.read_text().splitlines()
    assert set_profile(p, "sft", "gpu-h100") is True
    after = p.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("  profile: gpu-h100") and "#" in changed[0][1]
    assert yaml.safe_load(p.read_text())["sft"]["profile"] == "gpu-h100"
    assert (
        yaml.safe_load(p.read_text())["pretrain"]["profile"]
        == yaml.safe_load((ROOT / "params.yaml").read_text())["pretrain"]["profile"]
    )
    assert set_profile(p, "sft", "gpu-h100") is False
    with pytest.raises(ValueError, match="no 'gpu-tpu'"):
        set_profile(p, "sft", "gpu-tpu")
    ups = upstream("sft", ROOT / "dvc.yaml")
    assert "pretrain" in ups and "tokenizer" in ups and "sft" not in ups and "evaluate" not in ups


def test_launch_command_names_secrets_without_values(monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    cmd = launch_cmd("sky/sft.yaml", "sft", "gpu-a100")
    assert cmd[-1] == "sky/sft.yaml" and "PROFILE=gpu-a100" in cmd
    assert [cmd[i + 1] for i, c in enumerate(cmd) if c == "--secret"] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "HF_TOKEN",
    ]
    assert "hf_secret_value" not in " ".join(cmd)
