"""Faults for the registry tests, injected by wrapping a store (the production code has no test hooks).

    crashing = Registry(CrashAfterUploads(reg.store, 3))     # the 4th upload_file "kills the process"
    racy = InterferingStore(reg.store)                       # racy.before_alias_put = lambda name, alias: ...
    Registry(racy).point("tutor", "staging", "v3", "mine")   # the callback writes between our read and our CAS

Both wrappers delegate everything else to the wrapped store, so a Registry on them behaves as on the real store.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ALIAS_KEY = re.compile(r"^models/([^/]+)/aliases/([^/]+)\.json$")  # alias objects, not aliases/history/...


class InjectedCrash(BaseException):
    """A crash mid-upload (BaseException, so no cleanup runs, as with a killed process)."""


class _Wrapper:
    def __init__(self, store: Any):
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"


class CrashAfterUploads(_Wrapper):
    """`upload_file` succeeds `after` times, then every later call raises InjectedCrash.

    Uploads run in a thread pool, so the count is taken under a lock before the upload starts: exactly `after`
    files reach the store whatever the scheduling, as when the old code uploaded sequentially to inject the crash.
    """

    def __init__(self, store: Any, after: int):
        super().__init__(store)
        self.after = after
        self.started = 0
        self._lock = threading.Lock()

    def upload_file(self, src: Path, key: str) -> None:
        with self._lock:
            if self.started >= self.after:
                raise InjectedCrash(f"injected crash after {self.after} files")
            self.started += 1
        self.store.upload_file(src, key)


class InterferingStore(_Wrapper):
    """`put` on an alias object first calls `before_alias_put(name, alias)`: the "other writer" that lands between
    the registry's read of the alias and its compare-and-swap write (None = no interference)."""

    def __init__(self, store: Any, before_alias_put: Callable[[str, str], None] | None = None):
        super().__init__(store)
        self.before_alias_put = before_alias_put

    def put(self, key: str, data: bytes, if_none_match: bool = False, if_match: str | None = None) -> str:
        m = ALIAS_KEY.match(key)
        if m and self.before_alias_put is not None:
            self.before_alias_put(m.group(1), m.group(2))
        return self.store.put(key, data, if_none_match=if_none_match, if_match=if_match)
