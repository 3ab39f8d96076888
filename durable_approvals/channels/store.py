"""The channels' small durable store (SQLite): which Slack message shows an approval, which
emails went out, and which signed requests and links were already used (replay)."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS slack_messages (approval_id TEXT PRIMARY KEY, "
    "channel TEXT NOT NULL, ts TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at REAL NOT NULL)",
)
SEEN_KEEP_SECONDS = 8 * 86_400.0
"""Used keys older than this are forgotten (longer than any link or signature window)."""


@dataclass(frozen=True)
class SlackMessage:
    """Where an approval's one Slack message is."""

    channel: str
    ts: str


class ChannelStore:
    """One SQLite file; each call is its own short transaction (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)  # replay keys and message ids: private
        with self._connect() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=10.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def slack_message(self, approval_id: str) -> SlackMessage | None:
        """The approval's recorded Slack message, if one was recorded."""
        with self._lock, closing(self._connect()) as db:
            row = db.execute(
                "SELECT channel, ts FROM slack_messages WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return SlackMessage(row[0], row[1]) if row else None

    def remember_slack_message(self, approval_id: str, message: SlackMessage) -> None:
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT OR IGNORE INTO slack_messages VALUES (?, ?, ?)",
                (approval_id, message.channel, message.ts),
            )

    def was_sent(self, key: str) -> bool:
        with self._lock, closing(self._connect()) as db:
            return db.execute("SELECT 1 FROM sent WHERE key = ?", (key,)).fetchone() is not None

    def mark_sent(self, key: str) -> None:
        with self._lock, closing(self._connect()) as db:
            db.execute("INSERT OR IGNORE INTO sent VALUES (?, ?)", (key, time.time()))

    def first_use(self, key: str) -> bool:
        """Record ``key`` as used: True the first time, False for a replay."""
        now = time.time()
        with self._lock, closing(self._connect()) as db:
            db.execute("DELETE FROM seen WHERE at < ?", (now - SEEN_KEEP_SECONDS,))
            cursor = db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, now))
            return cursor.rowcount == 1


__all__ = ["ChannelStore", "SlackMessage"]
