"""`tutorforge label …`: Label Studio bootstrap, push, pull and select-push (side effects on a server, outside DVC).

    export LABEL_STUDIO_URL=http://127.0.0.1:8080 LABEL_STUDIO_API_KEY=<token>
    tutorforge label bootstrap                          # create/update the 4 projects (matched by title)
    tutorforge label push --kind section_label          # sections -> tasks (+ segmenter subject as prediction)
    tutorforge label push --kind review                 # synthetic questions -> review tasks
    tutorforge label pull                               # exports -> data/annotations/<kind>.json (+ what changed)
    tutorforge label select-push                        # artifacts/select/selection.jsonl -> tasks with scores

Settings: params.yaml [label_studio] (attempts, base_delay, timeout, snapshot_dir, kinds, max_pages); env
TUTORFORGE_LS_ATTEMPTS / _BASE_DELAY / _TIMEOUT override. URL and token come from the environment only. `pull`
validates each export with the annotations stage's parser (and its [annotations] text limits) before replacing the
snapshot, and lists the annotations the stage will leave out.

Errors are one line on stderr: a configuration mistake (params, --kind, LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY
missing or malformed, TUTORFORGE_LS_* not a number) exits with code 2 before any request; a server that is down,
refuses the token or answers something unusable, or a missing input file, exits with code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Label Studio projects, tasks and snapshots.")
console = Console()

ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]


class ConfigMistake(ValueError):
    """A command-line value that cannot work (exit code 2)."""


class BadInput(RuntimeError):
    """An input file (sections, synth, selection) that is missing or unreadable (exit code 1)."""


def _cfg(params: str) -> Any:
    from tutorforge.core.config import load_config
    from tutorforge.labelstudio.client import LabelStudioConfig

    return load_config(LabelStudioConfig, "label_studio", params)


def _subjects(params: str) -> tuple[str, ...]:
    from tutorforge.core.config import read_params

    return tuple(read_params(params).get("subjects") or ("biology", "chemistry", "physics", "mathematics"))


def _kinds(params: str, wanted: list[str] | None = None) -> dict[str, Any]:
    """The project kinds named in `wanted` (in order; None = all); an unknown name is a ConfigMistake."""
    from tutorforge.labelstudio.schema import project_kinds

    kinds = project_kinds(_subjects(params))
    wanted = list(kinds) if wanted is None else wanted
    unknown = [k for k in wanted if k not in kinds]
    if unknown:
        raise ConfigMistake(f"--kind {unknown[0]!r} is not a project kind; use one of {', '.join(kinds)}")
    return {k: kinds[k] for k in wanted}


def _one_line(text: str) -> str:
    """Whitespace runs -> one space, other unprintable characters escaped (server-sent text reaches the terminal)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(text).split()))


def _fail(code: int, message: str) -> typer.Exit:
    """Print `error: <message>` as ONE line on stderr (no markup, no wrapping) and return the Exit to raise."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    return typer.Exit(code)


def _run(fn: Any) -> Any:
    """Configuration mistakes -> one line, exit 2; known runtime failures -> one line, exit 1 (anything else is a
    bug and keeps its traceback)."""
    import functools

    from tutorforge.core.config import ParamsError
    from tutorforge.labelstudio.client import LabelStudioConfigError, LabelStudioError
    from tutorforge.labelstudio.snapshot import ExportError

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except (ParamsError, LabelStudioConfigError, ConfigMistake) as e:
            raise _fail(2, str(e)) from None
        except (LabelStudioError, ExportError, BadInput) as e:
            raise _fail(1, str(e)) from None
        except OSError as e:  # a snapshot dir that cannot be written, a disk full, ...
            raise _fail(1, f"{getattr(e, 'filename', '') or ''} {e.strerror or e}".strip()) from None

    return wrapper


def _settings(params: str) -> Any:
    """Connection settings from env + params, checked before anything is read or sent."""
    from tutorforge.labelstudio.client import settings_from_env

    return settings_from_env(cfg=_cfg(params))


def _client(settings: Any) -> Any:
    from tutorforge.labelstudio.client import connect

    return connect(settings)


def _rows(path: str) -> list[dict]:
    from tutorforge.core.io import read_jsonl

    if not Path(path).exists():
        raise BadInput(f"{path} not found (run the stage that writes it, e.g. `dvc repro`)")
    try:
        return list(read_jsonl(path))
    except ValueError as e:  # read_jsonl names the file and the broken line
        raise BadInput(str(e)) from None


@app.command()
@_run
def bootstrap(params: ParamsOpt = "params.yaml") -> None:
    """Create (or update in place) the labeling projects with their configs and instructions."""
    from tutorforge.labelstudio.client import bootstrap as do_bootstrap

    settings, kinds = _settings(params), _kinds(params, _cfg(params).kinds)
    out = do_bootstrap(_client(settings), kinds)
    console.print_json(json.dumps(out))


@app.command()
@_run
def push(
    kind: Annotated[str, typer.Option("--kind", help="section_label | qa | socratic | review")] = "section_label",
    sections: str = "artifacts/segment/sections.jsonl",
    synth: str = "artifacts/synth/examples.jsonl",
    limit: Annotated[int | None, typer.Option(help="at most N tasks (default params push_limit)")] = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Push sections / generated questions as tasks (idempotent by external id; annotated tasks untouched)."""
    from tutorforge.labelstudio.client import push_tasks
    from tutorforge.labelstudio.tasks import build_tasks

    settings, cfg, project = _settings(params), _cfg(params), _kinds(params, [kind])[kind]
    if limit is not None and limit < 0:
        raise ConfigMistake(f"--limit must be >= 0 (0 = all), got {limit}")
    syn = _rows(synth) if Path(synth).exists() or kind in ("qa", "review") else []
    tasks = build_tasks(kind, _rows(sections), syn, limit=cfg.push_limit if limit is None else limit)
    console.print_json(json.dumps(push_tasks(_client(settings), project, tasks)))


@app.command()
@_run
def pull(
    out_dir: Annotated[str | None, typer.Option("--out-dir", help="default params snapshot_dir")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="only these project kinds")] = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Export every project into <snapshot_dir>/<kind>.json atomically (validated first, as the annotations stage
    would) and print what is new/changed/deleted and which annotations the stage will leave out."""
    from tutorforge.core.config import load_config
    from tutorforge.labelstudio.annotations import AnnotationsConfig
    from tutorforge.labelstudio.pull import pull as do_pull

    settings, cfg = _settings(params), _cfg(params)
    kinds = _kinds(params, kind or cfg.kinds)
    rules = load_config(AnnotationsConfig, "annotations", params).text_rules()
    client = _client(settings)
    for k, project in kinds.items():
        s = do_pull(client, project, Path(out_dir or cfg.snapshot_dir) / f"{k}.json", rules)
        typer.echo(f"{k}: {s['tasks']} tasks, {s['annotations']} annotations -> {s['file']}")
        for what in ("new", "changed", "deleted", "newly_annotated"):
            if s[what]:
                shown = f"{', '.join(s[what][:10])}{' …' if len(s[what]) > 10 else ''}"
                typer.echo(f"  {what} ({len(s[what])}): {_one_line(shown)}")
        for line in s["rejected"]:  # the stage leaves these out (report rejected_text): fix them in Label Studio
            typer.echo(f"  left out by the annotations stage: {_one_line(line)}")


@app.command("select-push")
@_run
def select_push(
    selection: str = "artifacts/select/selection.jsonl",
    sections: str = "artifacts/segment/sections.jsonl",
    synth: str = "artifacts/synth/examples.jsonl",
    model_version: Annotated[str | None, typer.Option(help="default: select-round<N>")] = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Push the active-learning selection; prediction score = model confidence, data.selection_round = round."""
    from tutorforge.labelstudio.client import push_tasks
    from tutorforge.labelstudio.tasks import selection_tasks

    settings, kinds = _settings(params), _kinds(params)
    sel = _rows(selection)
    if not sel:
        console.print("selection is empty: nothing to push")
        return
    version = model_version or f"select-round{sel[0]['round']}"
    per_kind = selection_tasks(sel, _rows(sections), _rows(synth) if Path(synth).exists() else [], version)
    client = _client(settings)
    out = {k: push_tasks(client, kinds[k], tasks) for k, tasks in per_kind.items() if tasks}
    console.print_json(json.dumps(out))
