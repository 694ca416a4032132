"""`tutorforge label …`: Label Studio bootstrap, push, pull and select-push (side effects on a server, outside DVC).

    export LABEL_STUDIO_URL=http://127.0.0.1:8080 LABEL_STUDIO_API_KEY=<token>
    tutorforge label bootstrap                          # create/update the 4 projects (matched by title)
    tutorforge label push --kind section_label          # sections -> tasks (+ segmenter subject as prediction)
    tutorforge label push --kind review                 # synthetic questions -> review tasks
    tutorforge label pull                               # exports -> data/annotations/<kind>.json (+ what changed)
    tutorforge label select-push                        # artifacts/select/selection.jsonl -> tasks with scores

Settings: params.yaml [label_studio] (attempts, base_delay, timeout, snapshot_dir, kinds); env
TUTORFORGE_LS_ATTEMPTS / _BASE_DELAY / _TIMEOUT override. URL and token come from the environment only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Label Studio projects, tasks and snapshots.")
console = Console()
err = Console(stderr=True)

ParamsOpt = Annotated[str, typer.Option("--params", help="params.yaml")]


def _cfg(params: str) -> Any:
    from tutorforge.core.config import load_config
    from tutorforge.labelstudio.client import LabelStudioConfig

    return load_config(LabelStudioConfig, "label_studio", params)


def _subjects(params: str) -> tuple[str, ...]:
    from tutorforge.core.config import read_params

    return tuple(read_params(params).get("subjects") or ("biology", "chemistry", "physics", "mathematics"))


def _run(fn: Any) -> Any:
    import functools

    from tutorforge.core.config import ParamsError
    from tutorforge.labelstudio.client import LabelStudioError

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except (LabelStudioError, FileNotFoundError, ParamsError) as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(1) from None

    return wrapper


def _client(params: str) -> Any:
    from tutorforge.labelstudio.client import connect, settings_from_env

    return connect(settings_from_env(cfg=_cfg(params)))


def _rows(path: str) -> list[dict]:
    from tutorforge.core.io import read_jsonl

    if not Path(path).exists():
        raise FileNotFoundError(f"{path} not found (run the stage that writes it, e.g. `dvc repro`)")
    return list(read_jsonl(path))


@app.command()
@_run
def bootstrap(params: ParamsOpt = "params.yaml") -> None:
    """Create (or update in place) the labeling projects with their configs and instructions."""
    from tutorforge.labelstudio.client import bootstrap as do_bootstrap
    from tutorforge.labelstudio.schema import project_kinds

    cfg = _cfg(params)
    kinds = {k: v for k, v in project_kinds(_subjects(params)).items() if k in cfg.kinds}
    out = do_bootstrap(_client(params), kinds)
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
    from tutorforge.labelstudio.schema import project_kinds
    from tutorforge.labelstudio.tasks import build_tasks

    cfg = _cfg(params)
    kinds = project_kinds(_subjects(params))
    if kind not in kinds:
        raise typer.BadParameter(f"--kind must be one of {list(kinds)}")
    syn = _rows(synth) if Path(synth).exists() or kind in ("qa", "review") else []
    tasks = build_tasks(kind, _rows(sections), syn, limit=cfg.push_limit if limit is None else limit)
    console.print_json(json.dumps(push_tasks(_client(params), kinds[kind], tasks)))


@app.command()
@_run
def pull(
    out_dir: Annotated[str | None, typer.Option("--out-dir", help="default params snapshot_dir")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="only these project kinds")] = None,
    params: ParamsOpt = "params.yaml",
) -> None:
    """Export every project into <snapshot_dir>/<kind>.json atomically and print what is new/changed/deleted."""
    from tutorforge.labelstudio.client import pull as do_pull
    from tutorforge.labelstudio.schema import project_kinds

    cfg = _cfg(params)
    kinds = project_kinds(_subjects(params))
    client = _client(params)
    for k in kind or cfg.kinds:
        s = do_pull(client, kinds[k], Path(out_dir or cfg.snapshot_dir) / f"{k}.json")
        console.print(f"[bold]{k}[/]: {s['tasks']} tasks, {s['annotations']} annotations -> {s['file']}")
        for what in ("new", "changed", "deleted", "newly_annotated"):
            if s[what]:
                console.print(
                    f"  {what} ({len(s[what])}): {', '.join(s[what][:10])}{' …' if len(s[what]) > 10 else ''}"
                )


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
    from tutorforge.labelstudio.schema import project_kinds
    from tutorforge.labelstudio.tasks import selection_tasks

    sel = _rows(selection)
    if not sel:
        console.print("selection is empty: nothing to push")
        return
    version = model_version or f"select-round{sel[0]['round']}"
    per_kind = selection_tasks(sel, _rows(sections), _rows(synth) if Path(synth).exists() else [], version)
    kinds = project_kinds(_subjects(params))
    client = _client(params)
    out = {k: push_tasks(client, kinds[k], tasks) for k, tasks in per_kind.items() if tasks}
    console.print_json(json.dumps(out))
