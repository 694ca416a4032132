"""Label Studio client for TutorForge: connect (clear errors, bounded retries), bootstrap projects, push tasks, pull.

    from tutorforge.labelstudio.client import connect, bootstrap, push_tasks, pull
    ls = connect()                                    # LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY from the environment
    bootstrap(ls, project_kinds(subjects))            # create or update the 4 projects in place (matched by title)
    push_tasks(ls, "section_label", tasks)            # idempotent by data.external_id; annotated tasks never touched
                                                      # (tasks from tutorforge/labelstudio/tasks.py: build_tasks, ...)
    pull(ls, "section_label", "data/annotations/section_label.json")   # atomic snapshot + what changed since the last

Retries: connection errors, timeouts, 429 and 5xx are retried `attempts` times with exponential backoff from
`base_delay` (env TUTORFORGE_LS_ATTEMPTS / TUTORFORGE_LS_BASE_DELAY / TUTORFORGE_LS_TIMEOUT override the defaults);
then a LabelStudioError names the URL. 401/403 fail at once with a message naming LABEL_STUDIO_API_KEY.
The token is never logged or written anywhere.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, section
from tutorforge.core.io import atomic_open
from tutorforge.core.logs import get_logger

log = get_logger(__name__)

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"


class LabelStudioError(RuntimeError):
    """Label Studio unreachable, refused the token, or answered something unusable (message says what to do)."""


@dataclass
class Settings:
    url: str
    api_key: str
    attempts: int = 4
    """Tries per request before giving up (connection errors, timeouts, 429, 5xx)."""
    base_delay: float = 1.0
    """Backoff before retry k is base_delay * 2**(k-1) seconds."""
    timeout: float = 30.0
    """Seconds per HTTP request."""


@section("label_studio")
@dataclass
class LabelStudioConfig:
    """params.yaml [label_studio]: connection behaviour and where pulled snapshots go (URL/token: env only)."""

    attempts: PositiveInt = 4
    """Tries per request (connection errors, timeouts, 429, 5xx); env TUTORFORGE_LS_ATTEMPTS overrides."""
    base_delay: NonNegFloat = 1.0
    """Backoff base in seconds (doubles per retry); env TUTORFORGE_LS_BASE_DELAY overrides."""
    timeout: PositiveFloat = 30.0
    """Seconds per HTTP request; env TUTORFORGE_LS_TIMEOUT overrides."""
    snapshot_dir: str = "data/annotations"
    """`pull` writes <snapshot_dir>/<project kind>.json (DVC-tracked input of the annotations stage)."""
    kinds: list[str] = field(default_factory=lambda: ["section_label", "qa", "socratic", "review"])
    """Project kinds that bootstrap creates and pull exports."""
    push_limit: NonNegInt = 0
    """`push` sends at most this many tasks per kind (0 = all)."""


def settings_from_env(
    url: str | None = None, api_key: str | None = None, cfg: LabelStudioConfig | None = None
) -> Settings:
    """Explicit values > environment > params. Missing URL/token -> LabelStudioError naming the variable."""
    cfg = cfg or LabelStudioConfig()
    url = url or os.environ.get(URL_ENV, "")
    key = api_key or os.environ.get(KEY_ENV, "")
    if not url:
        raise LabelStudioError(f"set {URL_ENV} to the Label Studio base URL (e.g. http://127.0.0.1:8080)")
    if not key:
        raise LabelStudioError(f"set {KEY_ENV} to your Label Studio access token (Account & Settings -> Access Token)")
    env = os.environ.get
    return Settings(
        url.rstrip("/"),
        key,
        int(env("TUTORFORGE_LS_ATTEMPTS", cfg.attempts)),
        float(env("TUTORFORGE_LS_BASE_DELAY", cfg.base_delay)),
        float(env("TUTORFORGE_LS_TIMEOUT", cfg.timeout)),
    )


class Client:
    """The SDK client plus `call()`, which adds bounded retries and readable errors around every request."""

    def __init__(self, settings: Settings):
        from label_studio_sdk import LabelStudio

        self.settings = settings
        self.url = settings.url
        self.sdk = LabelStudio(base_url=settings.url, api_key=settings.api_key, timeout=settings.timeout)
        http = getattr(self.sdk._client_wrapper, "httpx_client", None)
        if http is not None and hasattr(http, "base_max_retries"):
            http.base_max_retries = 0  # our own loop below retries (also on connection errors, which the SDK does not)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        s = self.settings
        last: Exception | None = None
        for attempt in range(1, max(1, s.attempts) + 1):
            try:
                return fn(*args, **kwargs)
            except ApiError as e:
                if e.status_code in (401, 403):
                    raise LabelStudioError(
                        f"Label Studio at {self.url} refused the token (HTTP {e.status_code}) while trying to {what}: "
                        f"set {KEY_ENV} to a valid access token of a user with access"
                    ) from None
                if e.status_code is None or not (e.status_code >= 500 or e.status_code == 429):
                    raise LabelStudioError(
                        f"Label Studio at {self.url}: {what} failed with HTTP {e.status_code}: {str(e.body)[:300]}"
                    ) from None
                last = e
            except (httpx.TransportError, OSError) as e:
                last = e
            if attempt < s.attempts:
                delay = s.base_delay * 2 ** (attempt - 1)
                log.warning(
                    "Label Studio at %s: %s failed (%s: %s); retry %d/%d in %.1fs",
                    self.url,
                    what,
                    type(last).__name__,
                    str(last)[:120],
                    attempt,
                    s.attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise LabelStudioError(
            f"Label Studio at {self.url} not reachable: {what} failed after {s.attempts} attempt(s) "
            f"({type(last).__name__}: {str(last)[:200]}); is the server running and "
            f"{URL_ENV} right?"
        )


def connect(settings: Settings | None = None) -> Client:
    """A checked client: one cheap authenticated request (whoami) so wrong URLs/tokens fail here, clearly."""
    client = Client(settings or settings_from_env())
    client.call("check the token (GET /api/current-user/whoami)", client.sdk.users.whoami)
    return client


# --- projects -------------------------------------------------------------------------------------------------


def find_projects(client: Client) -> dict[str, int]:
    """title -> project id (first match wins)."""
    out: dict[str, int] = {}
    for p in client.call("list projects", lambda: list(client.sdk.projects.list(page_size=100))):
        out.setdefault(p.title, p.id)
    return out


def bootstrap(client: Client, kinds: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Create or update in place (matched by title) one project per kind; returns {kind: {id, action}}."""
    existing = find_projects(client)
    out: dict[str, dict[str, Any]] = {}
    for name, k in kinds.items():
        fields = {
            "title": k.title,
            "label_config": k.label_config,
            "expert_instruction": k.instructions,
            "show_instruction": True,
        }
        if k.title in existing:
            pid = existing[k.title]
            p = client.call(f"read project {pid}", client.sdk.projects.get, pid)
            same = (
                (p.label_config or "").strip() == k.label_config.strip()
                and (p.expert_instruction or "") == k.instructions
                and bool(p.show_instruction)
            )
            if not same:
                client.call(f"update project {pid}", client.sdk.projects.update, pid, **fields)
            out[name] = {"id": pid, "title": k.title, "action": "unchanged" if same else "updated"}
        else:
            p = client.call(f"create project {k.title!r}", client.sdk.projects.create, **fields)
            out[name] = {"id": p.id, "title": k.title, "action": "created"}
        log.info("project %-14s id=%s %s", name, out[name]["id"], out[name]["action"])
    return out


def project_id(client: Client, kind: Any) -> int:
    pid = find_projects(client).get(kind.title)
    if pid is None:
        raise LabelStudioError(f"no project titled {kind.title!r} at {client.url}: run `tutorforge label bootstrap`")
    return pid


# --- tasks -----------------------------------------------------------------------------------------------------


def list_tasks(client: Client, pid: int) -> dict[str, Any]:
    """external_id -> task (with annotations and predictions) for every task of the project."""

    def fetch() -> list[Any]:
        return list(client.sdk.tasks.list(project=pid, fields="all", page_size=500))

    out: dict[str, Any] = {}
    for t in client.call(f"list tasks of project {pid}", fetch):
        ext = (t.data or {}).get("external_id")
        if ext:
            out[ext] = t
    return out


def _pred_key(preds: list[dict]) -> str:
    return json.dumps([{k: p.get(k) for k in ("model_version", "score", "result")} for p in preds], sort_keys=True)


def push_tasks(client: Client, kind: Any, tasks: list[dict], batch: int = 200) -> dict[str, int]:
    """Import tasks `{data: {external_id, ...}, predictions: [...]}` idempotently.

    New external ids are imported (with their predictions); an existing task nobody touched (no annotations, no
    drafts) gets its data / predictions replaced only when they changed; annotated tasks are left alone.
    """
    pid = project_id(client, kind)
    have = list_tasks(client, pid)
    new, counts = [], {"created": 0, "updated": 0, "unchanged": 0, "skipped_annotated": 0}
    for t in tasks:
        ext = t["data"]["external_id"]
        old = have.get(ext)
        if old is None:
            new.append(t)
            continue
        if (old.total_annotations or 0) + (old.cancelled_annotations or 0) > 0 or old.annotations or old.drafts:
            counts["skipped_annotated"] += 1
            continue
        old_preds = [p if isinstance(p, dict) else p.dict() for p in (old.predictions or [])]
        data_changed = dict(old.data or {}) != t["data"]
        preds_changed = _pred_key(old_preds) != _pred_key(t.get("predictions", []))
        if data_changed:
            client.call(f"update task {old.id}", client.sdk.tasks.update, str(old.id), data=t["data"])
        if preds_changed:
            for p in old_preds:
                client.call(f"delete prediction {p['id']}", client.sdk.predictions.delete, p["id"])
            for p in t.get("predictions", []):
                client.call(
                    f"add prediction to task {old.id}",
                    client.sdk.predictions.create,
                    task=old.id,
                    result=p["result"],
                    score=p.get("score"),
                    model_version=p.get("model_version"),
                )
        counts["updated" if data_changed or preds_changed else "unchanged"] += 1
    for i in range(0, len(new), batch):
        chunk = new[i : i + batch]
        client.call(
            f"import {len(chunk)} task(s) into project {pid}",
            client.sdk.projects.import_tasks,
            pid,
            request=chunk,
            return_task_ids=True,
        )
        counts["created"] += len(chunk)
    log.info("push %s -> project %d: %s", kind.name, pid, counts)
    return counts


# --- pull ------------------------------------------------------------------------------------------------------


def _index(export: list[dict]) -> dict[str, dict[int, str]]:
    """external_id -> {annotation id: updated_at} (task-level data changes count as a change too)."""
    out: dict[str, dict[int, str]] = {}
    for t in export:
        ext = (t.get("data") or {}).get("external_id")
        if ext:
            out[ext] = {a["id"]: str(a.get("updated_at")) for a in t.get("annotations") or []}
            out[ext][-1] = json.dumps(t.get("data"), sort_keys=True)
    return out


def diff_exports(old: list[dict], new: list[dict]) -> dict[str, list[str]]:
    """What changed between two exports, by task external id: new / changed / deleted / newly annotated."""
    a, b = _index(old), _index(new)
    annotated = [e for e in sorted(b) if len(b[e]) > 1 and len(a.get(e, {-1: ""})) <= 1]
    return {
        "new": sorted(set(b) - set(a)),
        "deleted": sorted(set(a) - set(b)),
        "changed": sorted(e for e in set(a) & set(b) if a[e] != b[e]),
        "newly_annotated": annotated,
    }


def pull(client: Client, kind: Any, out_path: str | Path) -> dict[str, Any]:
    """Export the project's tasks (Label Studio's JSON export, bytes unchanged) atomically into `out_path`.

    The download is complete and parsed before the rename: an error (server gone mid-way, bad JSON) leaves the
    previous snapshot byte-identical. Returns the diff against the previous snapshot (deleted tasks included).
    """
    out_path = Path(out_path)
    pid = project_id(client, kind)

    def download() -> bytes:
        chunks = client.sdk.projects.exports.download_sync(pid, export_type="JSON", download_all_tasks=True)
        return b"".join(chunks)

    raw = client.call(f"export project {pid}", download)
    try:
        export = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LabelStudioError(f"Label Studio at {client.url}: export of project {pid} is not JSON ({e})") from None
    if not isinstance(export, list):
        raise LabelStudioError(f"Label Studio at {client.url}: export of project {pid} is not a list of tasks")
    old: list[dict] = []
    if out_path.exists():
        try:
            old = json.loads(out_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("previous snapshot %s unreadable: diffing against nothing", out_path)
    summary: dict[str, Any] = {
        "project": pid,
        "kind": kind.name,
        "file": str(out_path),
        "tasks": len(export),
        "annotations": sum(len(t.get("annotations") or []) for t in export),
        **diff_exports(old, export),
    }
    with atomic_open(out_path, "wb") as f:
        f.write(raw)
    log.info(
        "pulled %s: %d tasks, %d annotations; new %d, changed %d, deleted %d -> %s",
        kind.name,
        len(export),
        summary["annotations"],
        len(summary["new"]),
        len(summary["changed"]),
        len(summary["deleted"]),
        out_path,
    )
    return summary
