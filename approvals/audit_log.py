"""The JSON Lines audit file: one record per lifecycle event, written exactly once.

Writers in several processes share the file under ``flock`` and dedup by ``event_id``.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from approvals.models import AuditEntry
from approvals.redaction import redact

_CORE_FIELDS = (
    "timestamp",
    "event_type",
    "workspace_id",
    "actor",
    "action",
    "resource",
    "outcome",
    "trace_id",
)
FILE_MODE = 0o600


class AuditUnwritableError(OSError):
    """The audit path cannot be created or appended to."""


def render_record(entry: AuditEntry) -> dict[str, Any]:
    """The record as the contract orders it, redacted; extras never overwrite core fields."""
    record: dict[str, Any] = {
        "timestamp": entry.timestamp.astimezone(UTC).isoformat(),
        "event_type": entry.event_type,
        "workspace_id": entry.workspace_id,
        "actor": entry.actor or entry.workspace_id,
        "action": entry.action,
        "resource": entry.resource,
        "outcome": entry.outcome,
        "trace_id": entry.trace_id,
    }
    for key, value in entry.extra.items():
        if key not in record and key != "event_id":
            record[key] = value
    record["event_id"] = entry.event_id
    redacted: dict[str, Any] = redact(record)
    return redacted


class AuditLog:
    """Appends audit records to one file, deduplicated by ``event_id`` across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._indexed_bytes = 0

    def ensure_writable(self) -> None:
        """Create the file (mode 0600) if needed; ``AuditUnwritableError`` if it cannot be."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            os.close(fd)
        except OSError as error:
            raise AuditUnwritableError(
                error.errno, f"audit log {self.path} is not writable: {error.strerror}"
            ) from error

    def append(self, entry: AuditEntry) -> bool:
        """Write ``entry``, redacted, unless its ``event_id`` is there; True if written.

        Raises:
            AuditUnwritableError: the file cannot be opened.
        """
        line = (json.dumps(render_record(entry), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
            except OSError as error:
                raise AuditUnwritableError(
                    error.errno, f"audit log {self.path} is not writable: {error.strerror}"
                ) from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._index_new_records(fd)
                if entry.event_id in self._seen:
                    return False
                os.write(fd, line)
                os.fsync(fd)
                self._seen.add(entry.event_id)
                self._indexed_bytes = os.fstat(fd).st_size
                return True
            finally:
                os.close(fd)  # closing releases the flock

    def _index_new_records(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size < self._indexed_bytes:  # truncated or rotated: start over
            self._seen.clear()
            self._indexed_bytes = 0
        if size == self._indexed_bytes:
            return
        chunk = os.pread(fd, size - self._indexed_bytes, self._indexed_bytes)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for raw in complete.splitlines():
            event_id = _event_id_of(raw)
            if event_id:
                self._seen.add(event_id)
        self._indexed_bytes += len(complete)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every parseable record in file order; for readers such as the CLI and tests."""
        try:
            with self.path.open(encoding="utf-8") as handle:
                for raw in handle:
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        yield record
        except FileNotFoundError:
            return


def _event_id_of(raw: bytes) -> str | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    event_id = record.get("event_id") if isinstance(record, dict) else None
    return event_id if isinstance(event_id, str) else None
