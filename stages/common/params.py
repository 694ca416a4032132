"""Load a stage's section of params.yaml into a typed dataclass config.

Each stage declares a dataclass (one docstring comment per field, LitGPT style) and calls
`load_config(MyConfig, "mystage")`. Unknown keys are an error, so a typo in params.yaml never
silently falls back to a default. Shared top-level keys (e.g. `seed`, `subjects`) are copied in
only when the dataclass has a field of that name, and the stage must declare them in dvc.yaml.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

DEFAULT_PARAMS = Path(os.environ.get("TUTORFORGE_PARAMS", "params.yaml"))
SHARED_KEYS = ("seed", "subjects")


def read_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """The whole params.yaml as a dict (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open() as f:
        return yaml.safe_load(f) or {}


def load_config(cls: type[T], section: str, path: str | Path = DEFAULT_PARAMS, **overrides: Any) -> T:
    """Build `cls` from `params.yaml[section]` + shared keys + explicit overrides (non-None only)."""
    params = read_params(path)
    values: dict[str, Any] = dict(params.get(section) or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"params.yaml [{section}]: unknown key(s) {unknown}; known: {sorted(names)}")
    for key in SHARED_KEYS:
        if key in names and key in params and key not in values:
            values[key] = params[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def config_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (for reports and cache keys)."""
    return dataclasses.asdict(cfg)
