"""params.yaml -> one validated, typed config per stage: the single config path of the whole project.

Each stage's knobs are a dataclass (one docstring per field, LitGPT style) registered under its params section:

    @section("ingest")
    @dataclass
    class IngestConfig:
        workers: NonNegInt = 0
        \"\"\"Worker processes (0 = all cores).\"\"\"

    cfg = load_config(IngestConfig, "ingest", "params.yaml", ["ingest.workers=1"])   # -S overrides, dvc exp syntax

On load, before any stage touches an output or a checkpoint:
- the file's top level may hold only known sections and shared keys (`injest:` is an error naming the key);
- the section's keys, types and ranges are checked by pydantic (`ingest.max_bad_ratio: 'lots'` -> an error naming
  `ingest.max_bad_ratio` and the file); nested tables (synth.filters, sft.deepspeed, ...) likewise;
- numbers written `1e-4` are numbers: PyYAML (YAML 1.1) reads them as strings, our loader uses YAML 1.2's float rule;
- a section with `profile` + `profiles` gets the named profile merged in (every profile is checked, not only the
  selected one, so a typo in a GPU profile fails on the laptop, not on the cluster);
- shared top-level keys (`seed`, `subjects`) are copied into configs that have a field of that name, and a field
  with `metadata={"params_from": "pretrain.base_model"}` reads a knob another section owns (declared in dvc.yaml).

`ParamsError` is a `ValueError` whose message is one line: `params.yaml: sft.learning_rate: Input should be a valid
number (got 'fast')`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

T = TypeVar("T")

DEFAULT_PARAMS = Path(os.environ.get("TUTORFORGE_PARAMS", "params.yaml"))
SHARED_KEYS = ("seed", "subjects")
PROFILE_KEYS = ("profile", "profiles")
PARAMS_FROM = "params_from"  # dataclass field metadata: read this field from another params path

# Field types with ranges (pydantic reads the Annotated metadata on dataclass fields).
PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]

# Every params.yaml section, with the config that validates it (imported lazily: see `section_config`).
SECTIONS: dict[str, str] = {
    "ingest": "tutorforge.pdf.ingest:IngestConfig",
    "segment": "tutorforge.segment.sections:SegmentConfig",
    "index": "tutorforge.retrieval.build:IndexConfig",
    "synth": "tutorforge.synth.generate:SynthConfig",
    "annotations": "tutorforge.labelstudio.annotations:AnnotationsConfig",
    "label_studio": "tutorforge.labelstudio.client:LabelStudioConfig",
    "select": "tutorforge.selection.select:SelectConfig",
    "dataset": "tutorforge.dataset.build:DatasetConfig",
    "tokenizer": "tutorforge.training.tokenizer:TokenizerConfig",
    "pretrain": "tutorforge.training.pretrain:PretrainConfig",
    "sft": "tutorforge.training.sft:SFTConfig",
    "evaluate": "tutorforge.eval.evaluate:EvaluateConfig",
    "register": "tutorforge.registry.register:RegisterConfig",
    "diagrams": "tutorforge.vision.dataset:DiagramsConfig",
    "vision": "tutorforge.vision.train:VisionConfig",
    "vision_eval": "tutorforge.vision.evaluate:VisionEvalConfig",
    "serve": "tutorforge.serve.config:ServeConfig",
    "remote": "tutorforge.orchestration.dvc_remote:RemoteConfig",
    "orchestration": "tutorforge.orchestration.settings:OrchestrationConfig",
    "cloud": "tutorforge.orchestration.skypilot:CloudConfig",
}
_SECTION_OF: dict[type, str] = {}


class ParamsError(ValueError):
    """A params file that cannot be used; the message is one line naming the file and the key."""


def section(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: `cls` validates params section `name`; unknown keys (here and in nested config
    dataclasses, which get the same treatment) are refused."""

    def wrap(cls: type[T]) -> type[T]:
        forbid_extra(cls)
        _SECTION_OF[cls] = name
        return cls

    return wrap


def forbid_extra(cls: type[T]) -> type[T]:
    """Make pydantic refuse unknown keys for the dataclass `cls` (use on nested config dataclasses too)."""
    cls.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return cls


# ---------------------------------------------------------------------------------------------------------- YAML
class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's float rule: `1e-4`, `5e-2` and `.5` are floats, as a reader expects."""


_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_Loader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:float"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def yaml_load(text: str) -> Any:
    """Parse YAML text with the 1.2 float rule (the loader every params read goes through)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def read_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """The whole params file as a dict ({} when it does not exist: every config then has its code defaults)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}:{where} not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------------------------------- overrides
def parse_override(item: str) -> tuple[list[str], Any]:
    """`pretrain.deepspeed.enabled=true` -> (["pretrain", "deepspeed", "enabled"], True); the value is YAML."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ParamsError(f"-S {item!r}: expected KEY=VALUE with KEY a params path (e.g. sft.max_steps=20)")
    try:
        parsed = yaml_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def apply_overrides(params: dict[str, Any], overrides: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `params` with `-S key=value` overrides applied (keys are full params paths, as `dvc exp run -S`)."""
    out = copy.deepcopy(params)
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for key, value in items:
        path = key.split(".") if isinstance(key, str) else list(key)
        node = out
        for part in path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ParamsError(f"-S {'.'.join(path)}: {part} is not a table")
            node = nxt
        node[path[-1]] = value
    return out


# --------------------------------------------------------------------------------------------------- validation
def check_top_level(params: Mapping[str, Any], path: str | Path) -> None:
    """Only known sections and shared keys at the top level: a typo never silently falls back to defaults."""
    known = [*SECTIONS, *SHARED_KEYS]
    for key in params:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            raise ParamsError(
                f"{path}: {key}: unknown section"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; sections: {', '.join(SECTIONS)}"
            )
        if key in SECTIONS and params[key] is not None and not isinstance(params[key], dict):
            raise ParamsError(f"{path}: {key}: expected a table of keys, got {type(params[key]).__name__}")


def _describe(err: dict[str, Any], prefix: str, cls: type) -> str:
    loc = [str(p) for p in err.get("loc", ())]
    key = ".".join([prefix, *loc]) if prefix else ".".join(loc)
    if err.get("type") in ("unexpected_keyword_argument", "extra_forbidden"):
        names = _field_names_at(cls, loc[:-1])
        hint = difflib.get_close_matches(loc[-1], names, n=1) if loc else []
        return f"{key}: unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "value_error":  # a __post_init__ check: its message already names the key
        msg = msg.removeprefix("Value error, ")
        source, _, section_path = prefix.rpartition(": ")
        if section_path and msg.startswith(section_path.split(".")[0] + "."):
            return f"{source}: {msg}" if source else msg
        return f"{key}: {msg}"
    value = err.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    return f"{key}: {msg}{shown}"


def _field_names_at(cls: Any, loc: list[str]) -> list[str]:
    """Field names of the (nested) config dataclass at `loc` inside `cls`, for "did you mean" hints."""
    for part in loc:
        try:
            sub = typing.get_type_hints(cls).get(part)
        except Exception:  # noqa: BLE001 - a hint is a nicety, never an error of its own
            return []
        if not (isinstance(sub, type) and dataclasses.is_dataclass(sub)):
            return []
        cls = sub
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


_ADAPTERS: dict[type, TypeAdapter] = {}


def validate(cls: type[T], values: Mapping[str, Any], where: str = "") -> T:
    """`cls(**values)` with types, ranges and unknown keys checked; errors are one line naming `where.key`."""
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    try:
        return _ADAPTERS[cls].validate_python(dict(values))
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = _describe(errors[0], where, cls)  # type: ignore[arg-type]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ParamsError(first + more) from None
    except (TypeError, ValueError) as e:  # __post_init__ checks of the dataclass
        msg = " ".join(str(e).split())
        raise ParamsError(msg if where and msg.startswith(where) else f"{where}: {msg}" if where else msg) from None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def resolve_section(cls: type[T], name: str, params: Mapping[str, Any], source: str = "params.yaml") -> T:
    """Validate `params[name]` (+ shared keys, + the selected profile) into `cls`."""
    values = params.get(name) or {}
    if not isinstance(values, dict):
        raise ParamsError(f"{source}: {name}: expected a table of keys, got {type(values).__name__}")
    values = dict(values)
    field_names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in SHARED_KEYS:
        if key in field_names and key in params and key not in values:
            values[key] = params[key]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        src = f.metadata.get(PARAMS_FROM)  # a knob owned by another section, e.g. tokenizer <- pretrain.base_model
        if src and f.name not in values:
            found, node = True, params
            for part in src.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    found = False
                    break
                node = node[part]
            if found:
                values[f.name] = _profiled(params, src, node)
    where = f"{source}: {name}"
    if set(PROFILE_KEYS) <= field_names:
        validate(cls, values, where)  # the section's own keys first, so their errors name `section.key`
        defaults = validate(cls, {}, where) if "profiles" not in values else None
        profiles = values.get("profiles", getattr(defaults, "profiles", {})) or {}
        if not isinstance(profiles, dict):
            raise ParamsError(f"{where}.profiles: expected a table of named profiles")
        for pname, prof in profiles.items():  # every profile must make a valid config
            if not isinstance(prof, dict):
                raise ParamsError(f"{where}.profiles.{pname}: expected a table of keys")
            bad = sorted(set(prof) & set(PROFILE_KEYS))
            if bad:
                raise ParamsError(f"{where}.profiles.{pname}.{bad[0]}: a profile cannot select profiles")
            validate(cls, _merge(values, prof), f"{where}.profiles.{pname}")
        chosen = values.get("profile", getattr(defaults, "profile", None))
        if chosen is not None and profiles and chosen not in profiles:
            raise ParamsError(f"{where}.profile: {chosen!r} is not one of the profiles {sorted(profiles)}")
        if chosen in profiles:
            values = _merge(values, profiles[chosen])
    return validate(cls, values, where)


def _profiled(params: Mapping[str, Any], src: str, value: Any) -> Any:
    """`value` of `section.key`, or the value the section's selected profile gives that key (tokenizer reads
    pretrain.base_model as the pretrain stage will see it)."""
    sec, _, key = src.partition(".")
    node = params.get(sec)
    if not isinstance(node, Mapping) or "." in key:
        return value
    prof = (node.get("profiles") or {}).get(node.get("profile"))
    return prof[key] if isinstance(prof, Mapping) and key in prof else value


def load_config(
    cls: type[T],
    name: str | None = None,
    path: str | Path = DEFAULT_PARAMS,
    overrides: Iterable[str] | Mapping[str, Any] = (),
) -> T:
    """Read params `path`, apply `-S` overrides, check the top level, validate section `name` (default: the section
    `cls` was registered for) into `cls`. Raises ParamsError (one line) on any problem."""
    name = name or _SECTION_OF.get(cls)
    if name is None:
        raise TypeError(f"{cls.__name__} is not registered with @section(...): pass the section name")
    params = apply_overrides(read_params(path), overrides)
    check_top_level(params, path)
    return resolve_section(cls, name, params, str(path))


def section_config(name: str) -> type:
    """The config class of a params section (imports its module)."""
    import importlib

    module, _, attr = SECTIONS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def check_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Validate every section of a params file; returns {section: config}. Raises ParamsError on the first problem."""
    params = read_params(path)
    check_top_level(params, path)
    return {name: resolve_section(section_config(name), name, params, str(path)) for name in SECTIONS}


def config_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (for reports and cache keys)."""
    return dataclasses.asdict(cfg)
