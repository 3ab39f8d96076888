"""What a writer knows of the file: the event ids written, the last hash, how far it read.

It catches up under the writers' lock before each append, so a record another process
wrote is seen, and it cuts off a torn last line (a write that never completed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from durable_approvals.audit_log.files import unwritable
from durable_approvals.audit_log.record import ROTATE_ACTION, parse_line

logger = logging.getLogger("durable_approvals.audit_log")


class ChainIndex:
    """The event ids and last hash of one audit path, read up to ``indexed_bytes``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        self.last_hash: str | None = None
        self._indexed_bytes = 0
        self._inode: tuple[int, int] | None = None

    def catch_up(self, fd: int) -> None:
        """Read what was appended since the last call (``fd`` locked), cutting off a torn
        last line.

        Raises:
            AuditUnwritableError: the torn line cannot be cut off.
        """
        stat = os.fstat(fd)
        inode = (stat.st_dev, stat.st_ino)
        if inode != self._inode:  # a new file (rotated): its records, its chain
            self._inode = inode
            self._indexed_bytes = 0
            self.last_hash = None  # event ids seen stay: a retry still finds its record
        size = stat.st_size
        if size < self._indexed_bytes:  # truncated: start over
            self.seen.clear()
            self._indexed_bytes = 0
            self.last_hash = None
        if size == self._indexed_bytes:
            return
        chunk = os.pread(fd, size - self._indexed_bytes, self._indexed_bytes)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for number, raw in enumerate(complete.splitlines()):
            record = parse_line(raw)
            if record is None:
                continue
            if number == 0 and self._indexed_bytes == 0:
                self._index_archive(record)
            event_id = record.get("event_id")
            if isinstance(event_id, str):
                self.seen.add(event_id)
            stored = record.get("record_hash")
            if isinstance(stored, str):
                self.last_hash = stored
        self._indexed_bytes += len(complete)
        if self._indexed_bytes < size:  # a torn last line: a write that never completed
            logger.warning(
                "audit log %s: cutting off a partial last line (%d bytes) before appending",
                self.path,
                size - self._indexed_bytes,
            )
            try:
                os.ftruncate(fd, self._indexed_bytes)
            except OSError as error:
                raise unwritable(self.path, error) from error

    def appended(self, fd: int, record: dict[str, Any]) -> None:
        """Count ``record``, just appended through ``fd``."""
        self.seen.add(record["event_id"])
        self.last_hash = record["record_hash"]
        self._indexed_bytes = os.fstat(fd).st_size

    def restarted(self, new: os.stat_result, start: dict[str, Any]) -> None:
        """The path names a new file ``new`` whose only record is ``start`` (a rotation)."""
        self._inode = (new.st_dev, new.st_ino)
        self._indexed_bytes = new.st_size
        self.last_hash = start["record_hash"]
        self.seen.add(start["event_id"])

    def _index_archive(self, first: dict[str, Any]) -> None:
        """Seen event ids of the archive a ``chain_start`` names (same directory): a retry
        that straddles a rotation finds its record there, even in a fresh process."""
        name = first.get("follows")
        if first.get("action") != ROTATE_ACTION or not isinstance(name, str):
            return
        if not name or name != Path(name).name:
            return
        try:
            with self.path.with_name(name).open("rb") as handle:
                for raw in handle:
                    record = parse_line(raw)
                    event_id = record.get("event_id") if record else None
                    if isinstance(event_id, str):
                        self.seen.add(event_id)
        except OSError:
            return  # moved away or deleted: the new file's own records still count


__all__ = ["ChainIndex"]
