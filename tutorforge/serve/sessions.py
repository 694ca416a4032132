"""Conversation history for POST /chat, in SQLite, so a conversation continues across server restarts.

    store = SessionStore(".cache/serve/sessions.sqlite")
    sid = store.create(mode="socratic", subject="biology")           # "k3V9c1x0aQ2m7Tt5Yb1nPw"
    store.append(sid, [{"role": "user", "content": "What is osmosis?"},
                       {"role": "assistant", "content": "What happens to water ...?", "citations": [...]}])
    store.history(sid)   # [{"role": "user", "content": "What is osmosis?", "citations": None, "created": 1765...}, ...]

A turn (the student's message and the tutor's reply) is written in one transaction after the reply is complete, so
a reply cut off by a disconnect or a killed server leaves no half turn. Session ids are random (128 bits) and are the
only key: anything else a client sends as an id is refused before it reaches SQL (and SQL is parameterised anyway).
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created REAL NOT NULL, mode TEXT, subject TEXT);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL REFERENCES sessions(id), seq INTEGER NOT NULL, role TEXT NOT NULL,
    content TEXT NOT NULL, citations TEXT, created REAL NOT NULL, PRIMARY KEY (session_id, seq)
);
"""


class UnknownSession(KeyError):
    """No session with that id (404)."""


class SessionStore:
    """SQLite-backed sessions; safe to use from the server's threads (one connection, serialised)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a turn the client was told about survives a power cut
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @staticmethod
    def valid_id(session_id: str) -> bool:
        return bool(SESSION_ID.match(session_id))

    def create(self, mode: str | None = None, subject: str | None = None) -> str:
        sid = secrets.token_urlsafe(16)
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (sid, time.time(), mode, subject))
        return sid

    def info(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT created, mode, subject FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise UnknownSession(session_id)
        return {"session_id": session_id, "created": row[0], "mode": row[1], "subject": row[2]}

    def history(self, session_id: str) -> list[dict[str, Any]]:
        self.info(session_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT role, content, citations, created FROM messages WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
        return [
            {"role": r, "content": c, "citations": json.loads(x) if x else None, "created": t} for r, c, x, t in rows
        ]

    def append(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Add messages (one turn) atomically."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                    raise UnknownSession(session_id)
                (seq,) = self._db.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?", (session_id,)
                ).fetchone()
                for i, m in enumerate(messages, seq + 1):
                    cites = json.dumps(m["citations"]) if m.get("citations") is not None else None
                    self._db.execute(
                        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                        (session_id, i, m["role"], m["content"], cites, now),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
