"""params.yaml is the single source of every knob: each dvc.yaml stage declares its section, params.yaml's values are
the config dataclass's defaults (so `python -m stages.x` without params.yaml runs the same job), and the section has
no key its dataclass doesn't know."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
import yaml

from tutorforge.core.config import config_dict, load_config

ROOT = Path(__file__).resolve().parent.parent
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PROFILE_DATA = {"profiles"}  # named hardware overrides: data, not defaults


def stage_config(stage: str) -> type:
    mod = importlib.import_module(f"stages.{stage}")
    [cls] = [v for k, v in vars(mod).items() if k.endswith("Config") and dataclasses.is_dataclass(v)
             and v.__module__ == mod.__name__ and stage in k.lower()]
    return cls


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_declares_its_section_and_defaults_equal_params(stage: str) -> None:
    assert STAGES[stage]["cmd"] == f"python -m stages.{stage}"
    assert stage in STAGES[stage].get("params", []), f"dvc.yaml stage {stage} does not declare params.{stage}"
    cls = stage_config(stage)
    from_params = config_dict(load_config(cls, stage, ROOT / "params.yaml"))
    defaults = config_dict(cls())
    differ = {k: (defaults[k], from_params[k]) for k in defaults if k not in PROFILE_DATA and defaults[k] != from_params[k]}
    assert differ == {}, f"{stage}: code default vs params.yaml"
    shared = [k for k in ("seed", "subjects") if k in defaults]
    for key in shared:  # shared top-level keys it reads are declared too, so changing them reruns it
        assert key in STAGES[stage]["params"], f"{stage} reads `{key}` but dvc.yaml does not declare it"
