"""The one config path (tutorforge/core/config.py): validated on load, one-line errors naming file and key, YAML 1.2
numbers, one profile mechanism, one `-S` override syntax, and the stage entry point that refuses bad params before
touching anything."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tutorforge.core.config import (
    NonNegInt,
    ParamsError,
    PositiveInt,
    check_params,
    forbid_extra,
    load_config,
    section,
    yaml_load,
)

ROOT = Path(__file__).resolve().parent.parent


@forbid_extra
@dataclass
class Inner:
    depth: PositiveInt = 2
    """A nested knob."""


@section("pretrain")  # reuses a real section name so the file's top level is valid
@dataclass
class Toy:
    steps: PositiveInt = 10
    """Steps."""
    lr: float = 1e-3
    """Learning rate."""
    workers: NonNegInt = 0
    """Workers."""
    name: str = "x"
    """A name."""
    inner: Inner = field(default_factory=Inner)
    """Nested table."""
    profile: str = "cpu"
    """Selected profile."""
    profiles: dict[str, dict] = field(default_factory=lambda: {"cpu": {}})
    """Named overrides."""
    seed: int = 0
    """Shared seed."""
    base: str | None = field(default=None, metadata={"params_from": "tokenizer.base_model"})
    """Read from another section when unset here."""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def test_yaml_numbers_in_exponent_form_are_numbers() -> None:
    assert yaml_load("a: 1e-4\nb: 5e-2\nc: 1.0e-3\nd: .5\ne: 12\nf: 1e3\ng: '1e-4'") == {
        "a": 1e-4,
        "b": 0.05,
        "c": 1e-3,
        "d": 0.5,
        "e": 12,
        "f": 1000.0,
        "g": "1e-4",
    }


def test_valid_section_loads_with_shared_keys_profile_and_params_from(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "seed: 7\npretrain:\n  lr: 1e-4\n  profile: big\n  profiles: {cpu: {}, big: {steps: 99, "
        "inner: {depth: 5}}}\ntokenizer:\n  base_model: smollm2\n",
    )
    cfg = load_config(Toy, path=p)
    assert (cfg.lr, cfg.steps, cfg.inner.depth, cfg.seed, cfg.base) == (1e-4, 99, 5, 7, "smollm2")
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("injest: {}\n", "injest: unknown section (did you mean 'ingest'?)"),
        ("pretrain: {stepz: 3}\n", "pretrain.stepz: unknown key (did you mean 'steps'?)"),
        ("pretrain: {lr: fast}\n", "pretrain.lr: Input should be a valid number"),
        ("pretrain: {steps: 0}\n", "pretrain.steps: Input should be greater than 0"),
        ("pretrain: {workers: -1}\n", "pretrain.workers: Input should be greater than or equal to 0"),
        ("pretrain: {name: 5}\n", "pretrain.name: Input should be a valid string"),
        ("pretrain: {inner: {depht: 1}}\n", "pretrain.inner.depht: unknown key (did you mean 'depth'?)"),
        ("pretrain: {profiles: {cpu: {}, gpu: {steps: -5}}}\n", "pretrain.profiles.gpu.steps: Input should be greater"),
        ("pretrain: {profiles: {cpu: {}, gpu: {stepz: 5}}}\n", "pretrain.profiles.gpu.stepz: unknown key"),
        ("pretrain: {profile: tpu}\n", "pretrain.profile: 'tpu' is not one of the profiles"),
        ("pretrain: [1, 2]\n", "pretrain: expected a table of keys"),
        ("pretrain: {steps: [1\n", "not valid YAML"),
    ],
)
def test_bad_params_are_one_line_errors_naming_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ParamsError) as e:
        load_config(Toy, path=p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p)) and needle in msg, msg


def test_overrides_use_full_params_paths_and_yaml_values(tmp_path: Path) -> None:
    p = write(tmp_path, "pretrain: {steps: 3}\n")
    cfg = load_config(
        Toy, path=p, overrides=["pretrain.lr=3e-4", "pretrain.inner.depth=4", "seed=9", "pretrain.name=''"]
    )
    assert (cfg.lr, cfg.inner.depth, cfg.seed, cfg.name, cfg.steps) == (3e-4, 4, 9, "", 3)
    with pytest.raises(ParamsError, match="pretrain.stepz: unknown key"):
        load_config(Toy, path=p, overrides=["pretrain.stepz=1"])
    with pytest.raises(ParamsError, match="expected KEY=VALUE"):
        load_config(Toy, path=p, overrides=["pretrain.steps"])
    with pytest.raises(ParamsError, match="pretraim: unknown section"):
        load_config(Toy, path=p, overrides=["pretraim.steps=1"])


def test_missing_params_file_gives_code_defaults(tmp_path: Path) -> None:
    assert load_config(Toy, path=tmp_path / "none.yaml") == Toy()


def test_shipped_params_file_is_valid_in_every_section() -> None:
    configs = check_params(ROOT / "params.yaml")
    assert len(configs) >= 15 and configs["pretrain"].learning_rate == 5e-5


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("stage", "params", "key"),
    [
        ("sft", "sft:\n  learning_rate: fast\n", "sft.learning_rate"),
        ("sft", "sft:\n  mode: lora\n  batch_size: 0\n", "sft.batch_size"),
        ("sft", "stf:\n  learning_rate: 1.0e-4\n", "stf"),
        ("pretrain", "pretrain:\n  learning_rate: [1]\n", "pretrain.learning_rate"),
        (
            "pretrain",
            "pretrain:\n  profile: gpu-h100\n  profiles: {gpu-h100: {batch_size: -1}}\n",
            "pretrain.profiles.gpu-h100.batch_size",
        ),
    ],
)
def test_bad_params_leave_outputs_and_checkpoints_byte_identical(
    tmp_path: Path, stage: str, params: str, key: str
) -> None:
    """A training stage with a resumable checkpoint and earlier outputs: bad params exit 2 with one line naming the
    key, before anything is touched (the old code deleted the checkpoints first, then crashed inside torch)."""
    out = tmp_path / "out"
    ckpt = out / "checkpoints" / "checkpoint-10"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text('{"global_step": 10}')
    (ckpt / "model.safetensors").write_bytes(b"\x00weights")
    (out / "checkpoints" / "run.json").write_text('{"fingerprint": "abc"}')
    (out / "report.json").write_text('{"answer_loss_sft": 1.0}')
    before = tree(out)
    p = tmp_path / "params.yaml"
    p.write_text(params)
    res = subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", "-p", str(p), "-S", f"{stage}.output={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and key in lines[0] and str(p) in lines[0], res.stderr
    assert tree(out) == before


def test_exponent_learning_rate_is_accepted_by_the_stage_config(tmp_path: Path) -> None:
    from tutorforge.training.sft import SFTConfig

    p = write(tmp_path, "sft:\n  learning_rate: 1e-4\n")
    assert load_config(SFTConfig, "sft", p).learning_rate == pytest.approx(1e-4)
