"""``AuditLog``: appends each record once, chained, under ``flock`` (docs/audit.md,
"How writers keep the chain"; docs/internals.md says why it cannot rest on memory)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from durable_approvals.audit_log.files import ensure_file, open_locked, write_all
from durable_approvals.audit_log.index import ChainIndex
from durable_approvals.audit_log.record import (
    GENESIS_HASH,
    chain,
    chain_start,
    encode_line,
    render_record,
)
from durable_approvals.audit_log.rotation import Rotation, swap_in
from durable_approvals.models import AuditEntry


class AuditLog:
    """Appends audit records to one file, deduplicated by ``event_id`` across processes,
    each record carrying the previous record's hash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._index = ChainIndex(path)

    def ensure_writable(self) -> None:
        """Create the file (mode 0600) if needed; ``AuditUnwritableError`` if it cannot be."""
        ensure_file(self.path)

    def append(self, entry: AuditEntry) -> bool:
        """Write ``entry``, redacted and chained, unless its ``event_id`` is there; True if
        written.

        Raises:
            AuditUnwritableError: the file cannot be opened or written.
        """
        record = render_record(entry)
        with self._lock:
            fd = open_locked(self.path)
            try:
                self._index.catch_up(fd)
                if entry.event_id in self._index.seen:
                    return False
                chained = chain(record, self._index.last_hash or GENESIS_HASH)
                write_all(fd, encode_line(chained), self.path)
                self._index.appended(fd, chained)
                return True
            finally:
                os.close(fd)  # closing releases the flock

    def last_hash(self) -> str:
        """The hash the next record will name as ``prev_hash`` (read under the lock)."""
        with self._lock:
            fd = open_locked(self.path)
            try:
                self._index.catch_up(fd)
                return self._index.last_hash or GENESIS_HASH
            finally:
                os.close(fd)

    def rotate(self, archive: Path, *, workspace_id: str = "", actor: str = "") -> Rotation:
        """Move the file to ``archive`` and start a new one whose first record, a
        ``chain_start``, names the archive and its last hash (its ``prev_hash``).

        Under the writers' lock: no record lands between the two files. ``archive``
        must not exist and must be on the same file system (it is a hard link).

        Raises:
            FileExistsError: ``archive`` exists.
            AuditUnwritableError: the file or the new one cannot be written.
        """
        with self._lock:
            fd = open_locked(self.path)
            try:
                self._index.catch_up(fd)
                last = self._index.last_hash or GENESIS_HASH
                start = chain_start(
                    archive.name,
                    last,
                    workspace_id=workspace_id,
                    actor=actor,
                    now=datetime.now(UTC),
                )
                new = swap_in(self.path, archive, start)
            finally:
                os.close(fd)
            self._index.restarted(new, start)
            return Rotation(archive=archive, last_hash=last, chain_start=start)

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


__all__ = ["AuditLog"]
