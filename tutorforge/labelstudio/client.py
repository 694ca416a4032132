"""Label Studio client for TutorForge: connect (clear errors, bounded retries), bootstrap projects, push tasks, pull.

    from tutorforge.labelstudio.client import connect, bootstrap, push_tasks, pull
    ls = connect()                                    # LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY from the environment
    bootstrap(ls, project_kinds(subjects))            # create or update the 4 projects in place (matched by title)
    push_tasks(ls, "section_label", tasks)            # idempotent by data.external_id; annotated tasks never touched
                                                      # (tasks from tutorforge/labelstudio/tasks.py: build_tasks, ...)
                                                      # pulls: tutorforge/labelstudio/pull.py

Retries: connection errors, timeouts, 429 and 5xx are retried `attempts` times with exponential backoff from
`base_delay` (env TUTORFORGE_LS_ATTEMPTS / TUTORFORGE_LS_BASE_DELAY / TUTORFORGE_LS_TIMEOUT override the defaults);
then a LabelStudioError names the URL. 401/403 fail at once with a message naming LABEL_STUDIO_API_KEY.
The token is never logged or written anywhere. Listings (projects, tasks) stop with an error after `max_pages`
pages: the SDK's pager only stops at an empty page, which a broken server may never send.

Configuration mistakes (a missing or malformed LABEL_STUDIO_URL, a missing token, TUTORFORGE_LS_ATTEMPTS=abc) raise
LabelStudioConfigError before any request: the CLI turns them into one line and exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tutorforge.core.config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, section
from tutorforge.core.logs import get_logger
from tutorforge.labelstudio.schema import project_kinds

log = get_logger(__name__)

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"


class LabelStudioError(RuntimeError):
    """Label Studio unreachable, refused the token, or answered something unusable (message says what to do)."""


class LabelStudioConfigError(LabelStudioError):
    """A configuration mistake found before any request (environment variable missing or malformed)."""


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
    max_pages: int = 1000
    """A project or task listing still returning full pages after this many pages is an error."""


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
    max_pages: PositiveInt = 1000
    """A project/task listing that still returns full pages after this many pages is an error (a server that never
    answers an empty page would otherwise be paged forever)."""

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in project_kinds()]
        if unknown:
            raise ValueError(f"label_studio.kinds: unknown kind(s) {unknown}; known: {list(project_kinds())}")


def check_url(url: str) -> str:
    """The base URL without a trailing slash; LabelStudioConfigError naming LABEL_STUDIO_URL if it cannot work."""
    example = "e.g. http://127.0.0.1:8080"
    shown = url[:200] if "@" not in url else "<hidden: it holds credentials>"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as e:
        raise LabelStudioConfigError(f"{URL_ENV}={shown!r} is not a valid URL ({e}); {example}") from None
    checks = [
        (parts.scheme not in ("http", "https"), "it must start with http:// or https://"),
        (not parts.hostname or port == 0, "it has no host (or port 0)"),
        (any(c.isspace() or ord(c) < 32 for c in url), "it must not contain spaces or control characters"),
        (bool(parts.username or parts.password), "credentials belong in LABEL_STUDIO_API_KEY, not in the URL"),
        (bool(parts.query or parts.fragment), "it must not have a query or fragment"),
    ]
    problem = next((why for bad, why in checks if bad), None)
    if problem:
        raise LabelStudioConfigError(f"{URL_ENV}={shown!r} cannot be used: {problem}; {example}")
    return url.rstrip("/")


def _env_number(name: str, default: float, kind: type, minimum: float, strict: bool = False) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        what = "an integer" if kind is int else "a number"
        raise LabelStudioConfigError(f"{name}={raw[:50]!r}: must be {what} {bound}")
    return value


def settings_from_env(
    url: str | None = None, api_key: str | None = None, cfg: LabelStudioConfig | None = None
) -> Settings:
    """Explicit values > environment > params. A missing/malformed URL, a missing token or a malformed
    TUTORFORGE_LS_* value -> LabelStudioConfigError naming the variable."""
    cfg = cfg or LabelStudioConfig()
    url = url or os.environ.get(URL_ENV, "")
    key = api_key or os.environ.get(KEY_ENV, "")
    if not url:
        raise LabelStudioConfigError(f"set {URL_ENV} to the Label Studio base URL (e.g. http://127.0.0.1:8080)")
    url = check_url(url)
    if not key:
        raise LabelStudioConfigError(
            f"set {KEY_ENV} to your Label Studio access token (Account & Settings -> Access Token)"
        )
    if any(c.isspace() or ord(c) < 32 for c in key):  # e.g. a trailing newline from `cat token.txt`
        raise LabelStudioConfigError(f"{KEY_ENV} contains whitespace or control characters: paste the token alone")
    return Settings(
        url,
        key,
        _env_number("TUTORFORGE_LS_ATTEMPTS", cfg.attempts, int, 1),
        _env_number("TUTORFORGE_LS_BASE_DELAY", cfg.base_delay, float, 0),
        _env_number("TUTORFORGE_LS_TIMEOUT", cfg.timeout, float, 0, strict=True),
        cfg.max_pages,
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

    def _quote(self, text: object, limit: int) -> str:
        """Server-sent text made safe to show: a reply may echo our token back (in a body or a header), and an
        error message must never carry it, so it is masked before the text is cut to `limit` characters."""
        shown = str(text)
        if self.settings.api_key:
            shown = shown.replace(self.settings.api_key, f"<{KEY_ENV}>")
        return shown[:limit]

    def _describe(self, e: Exception) -> str:
        """One short description of a failure: for an HTTP error its status and body, never its headers."""
        from label_studio_sdk.core.api_error import ApiError

        if isinstance(e, ApiError):
            return f"HTTP {e.status_code}: {self._quote(e.body, 200)}"
        return f"{type(e).__name__}: {self._quote(e, 200)}"

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
                        f"Label Studio at {self.url}: {what} failed with HTTP {e.status_code}: {self._quote(e.body, 300)}"
                    ) from None
                last = e
            except (httpx.TransportError, OSError) as e:
                last = e
            if attempt < s.attempts:
                delay = s.base_delay * 2 ** (attempt - 1)
                log.warning(
                    "Label Studio at %s: %s failed (%s); retry %d/%d in %.1fs",
                    self.url,
                    what,
                    self._describe(last)[:160],
                    attempt,
                    s.attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise LabelStudioError(
            f"Label Studio at {self.url} not reachable: {what} failed after {s.attempts} attempt(s) "
            f"({self._describe(last) if last else 'no attempt'}); is the server running and "
            f"{URL_ENV} right?"
        )


def connect(settings: Settings | None = None) -> Client:
    """A checked client: one cheap authenticated request (whoami) so wrong URLs/tokens fail here, clearly."""
    client = Client(settings or settings_from_env())
    client.call("check the token (GET /api/current-user/whoami)", client.sdk.users.whoami)
    return client


# --- projects -------------------------------------------------------------------------------------------------


def _last_page(page: Any, got: int) -> bool:
    """Whether the server says this page is the last: no `next` link (projects), or `total` items seen (tasks)."""
    if not page.items or not page.has_next or page.get_next is None:
        return True
    response = page.response
    if hasattr(response, "next"):
        return response.next is None
    total = getattr(response, "total", None)
    return isinstance(total, int) and got >= total


def all_pages(client: Client, what: str, first_page: Callable[[], Any]) -> list[Any]:
    """Every item of an SDK listing (retried as a whole), at most `settings.max_pages` pages.

    Follows the server's own end markers (no `next` link, `total` reached; a 404 past the last page ends it too)
    instead of the SDK pager, which asks for pages until one is empty - forever, from a server that never sends one.
    """
    from label_studio_sdk.core.api_error import ApiError

    limit = client.settings.max_pages

    def fetch() -> list[Any]:
        page, items = first_page(), []
        for _ in range(limit):
            items.extend(page.items or [])
            if _last_page(page, len(items)):
                return items
            try:
                page = page.get_next()
            except ApiError as e:
                if e.status_code == 404:  # Label Studio: "Invalid page." one past the last page
                    return items
                raise
            if page is None or not page.items:
                return items
        raise LabelStudioError(
            f"Label Studio at {client.url}: {what} still returns full pages after {limit} pages "
            f"(label_studio.max_pages): a server that never answers an empty page is not Label Studio; "
            f"if it really holds that many, raise label_studio.max_pages"
        )

    return client.call(what, fetch)


def find_projects(client: Client) -> dict[str, int]:
    """title -> project id (first match wins)."""
    out: dict[str, int] = {}
    for p in all_pages(client, "list projects", lambda: client.sdk.projects.list(page_size=100)):
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

    out: dict[str, Any] = {}
    listing = all_pages(
        client, f"list tasks of project {pid}", lambda: client.sdk.tasks.list(project=pid, fields="all", page_size=500)
    )
    for t in listing:
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
