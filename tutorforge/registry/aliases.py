"""Aliases of a registered model (`staging`, `production`, ...): one mutable record each, moved by compare-and-swap,
plus an append-only history. Registry (registry.py) delegates its alias methods here; gate.py decides promotions.

    models/<name>/aliases/<alias>.json                    the current record, replaced only with If-Match (CAS)
    models/<name>/aliases/history/<ts>-<alias>-<id>.json  one immutable object per change (If-None-Match)

`models/tutorforge-tutor/aliases/production.json` after `point(..., "v1", ...)` then `point(..., "v2", ...)`:

    {"action": "set", "alias": "production", "name": "tutorforge-tutor", "previous": "v1",
     "reason": "beats production", "stack": ["v1", "v2"], "updated_at": "2026-12-02T14:05:34.119083Z",
     "updated_by": "ci@runner-7", "version": "v2"}

and the history object of that second change, `history/20261202T140534.119083Z-production-ad494efaded6.json`:

    {"action": "set", "alias": "production", "at": "2026-12-02T14:05:34.119083Z", "by": "ci@runner-7",
     "from": "v1", "id": "ad494efaded6", "name": "tutorforge-tutor", "reason": "beats production", "to": "v2"}

`stack` is the alias's past versions, newest last (at most 50): a rollback pops it and points back at `stack[-2]`.
`updated_by` / `by` is `actor`, else $TUTORFORGE_ACTOR, else `$USER@hostname`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from tutorforge.core.logs import get_logger
from tutorforge.registry.objects import VERSION_RE, dumps, now_iso
from tutorforge.registry.store import PreconditionFailed, RegistryError, Store

log = get_logger("tutorforge.registry.registry")  # one log name for the whole registry protocol
Decide = Callable[[dict[str, Any] | None], tuple[str, str] | None]


def read_alias(store: Store, name: str, alias: str) -> dict[str, Any] | None:
    """The current record of `alias`, or None when it was never set."""
    got = store.get(f"models/{name}/aliases/{alias}.json")
    return json.loads(got[0]) if got else None


def list_aliases(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """{alias: current record} for every alias of `name`."""
    keys = [k for k in store.list(f"models/{name}/aliases/") if k.count("/") == 3 and k.endswith(".json")]
    out = {}
    for k in keys:
        a = read_alias(store, name, k.rsplit("/", 1)[1][:-5])
        if a:
            out[a["alias"]] = a
    return out


def alias_history(store: Store, name: str, alias: str | None = None) -> list[dict[str, Any]]:
    """History records of one alias (or all of them), oldest first."""
    out = []
    for k in store.list(f"models/{name}/aliases/history/"):
        got = store.get(k)
        if got:
            rec = json.loads(got[0])
            if alias is None or rec["alias"] == alias:
                out.append(rec)
    return sorted(out, key=lambda r: (r["at"], r["id"]))


def update_alias(
    store: Store,
    name: str,
    alias: str,
    decide: Decide,
    action: str,
    actor: str | None = None,
    retries: int = 5,
) -> dict[str, Any] | None:
    """CAS loop: `decide(current)` -> (new version, reason) or None (no change); retried on conflicts."""
    if not VERSION_RE.match(alias):
        raise RegistryError(f"bad alias name {alias!r}")
    key = f"models/{name}/aliases/{alias}.json"
    actor = actor or os.environ.get("TUTORFORGE_ACTOR") or f"{os.environ.get('USER', 'unknown')}@{socket.gethostname()}"
    for attempt in range(retries + 1):
        got = store.get(key)
        cur = json.loads(got[0]) if got else None
        decision = decide(cur)
        if decision is None:
            return cur
        version, reason = decision
        if cur and cur["version"] == version:
            return cur
        stack = list(cur["stack"]) if cur else []
        if action == "rollback":
            stack = stack[:-1]
        else:
            stack.append(version)
        new = {
            "alias": alias,
            "name": name,
            "version": version,
            "previous": cur["version"] if cur else None,
            "stack": stack[-50:],
            "updated_at": now_iso(),
            "updated_by": actor,
            "reason": reason,
            "action": action,
        }
        try:
            store.put(key, dumps(new), if_none_match=got is None, if_match=got[1] if got else None)
        except PreconditionFailed:
            log.info("%s/%s changed concurrently (attempt %d/%d); re-reading", name, alias, attempt + 1, retries + 1)
            time.sleep(min(0.05 * 2**attempt, 1.0))
            continue
        hid = uuid.uuid4().hex[:12]
        rec = {
            "id": hid,
            "alias": alias,
            "name": name,
            "from": new["previous"],
            "to": version,
            "action": action,
            "reason": reason,
            "by": actor,
            "at": new["updated_at"],
        }
        ts = new["updated_at"].replace(":", "").replace("-", "")
        store.put(f"models/{name}/aliases/history/{ts}-{alias}-{hid}.json", dumps(rec), if_none_match=True)
        log.info("%s: %s %s -> %s (%s)", name, alias, new["previous"], version, reason)
        return new
    raise RegistryError(f"{name}/{alias}: gave up after {retries + 1} conflicting concurrent updates")


def back_to_previous(name: str, alias: str, reason: str) -> Callable[[dict[str, Any] | None], tuple[str, str]]:
    """The `decide` of a rollback: the version before the current one on the alias's stack."""

    def decide(cur: dict[str, Any] | None) -> tuple[str, str]:
        if not cur or len(cur.get("stack", [])) < 2:
            raise RegistryError(f"{name}/{alias}: no previous version to roll back to")
        return cur["stack"][-2], reason

    return decide
