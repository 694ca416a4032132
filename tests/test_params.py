"""params.yaml is the single source of every knob: each dvc.yaml stage declares its section and every other params key
it reads, params.yaml's values are the config dataclass's defaults (so `python -m stages.x` without params.yaml runs
the same job), every section validates, and dvc.yaml writes no path of its own (all come from params)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from tutorforge.core.config import PARAMS_FROM, SECTIONS, SHARED_KEYS, config_dict, load_config, section_config

ROOT = Path(__file__).resolve().parent.parent
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PROFILE_DATA = {"profiles"}  # named hardware overrides: data, not defaults


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_params_yaml_values_equal_the_config_defaults(name: str) -> None:
    cls = section_config(name)
    assert name in PARAMS, f"params.yaml has no section {name}"
    from_params = config_dict(load_config(cls, name, ROOT / "params.yaml"))
    defaults = config_dict(cls())
    if "profile" in defaults:  # compare the section itself, not the selected profile merged into it
        assert PARAMS[name].get("profile", defaults["profile"]) == defaults["profile"]
    differ = {
        k: (defaults[k], from_params[k]) for k in defaults if k not in PROFILE_DATA and defaults[k] != from_params[k]
    }
    assert differ == {}, f"{name}: code default vs params.yaml"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_declares_every_params_key_it_reads(stage: str) -> None:
    declared = STAGES[stage].get("params", [])
    assert stage in declared, f"dvc.yaml stage {stage} does not declare params.{stage}"
    cls = section_config(stage)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in SHARED_KEYS:  # shared top-level keys it reads are declared too, so changing them reruns it
        if key in fields:
            assert key in declared, f"{stage} reads `{key}` but dvc.yaml does not declare it"
    for f in fields.values():
        src = f.metadata.get(PARAMS_FROM)
        if src:
            assert src in declared or src.split(".")[0] in declared, f"{stage} reads `{src}`: declare it"


def test_dvc_yaml_paths_come_from_params() -> None:
    """Paths live in params.yaml only: every dep/out/metric/plot of a data file is a ${section.key} reference."""
    literal = []
    for name, st in STAGES.items():
        for kind in ("deps", "outs", "metrics", "plots"):
            for entry in st.get(kind) or []:
                path = entry if isinstance(entry, str) else next(iter(entry))
                if path.split("/")[0] in ("stages", "tutorforge"):
                    continue  # code deps: the project layout, not a knob
                if not re.match(r"^\$\{[a-z_]+\.[^}]+\}", path):
                    literal.append(f"{name}.{kind}: {path}")
    assert literal == []
