"""The JSON Lines audit file: one record per lifecycle event, written exactly once,
each record chained to the one before it by hash (docs/audit.md).

Writers in several processes share the file under ``flock``, dedup by ``event_id`` and
read the last record's hash inside the lock, so the chain holds under concurrent writers.
``verify_chain`` reads a file back and reports the first record that breaks the chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from durable_approvals.models import AuditEntry
from durable_approvals.redaction import redact

logger = logging.getLogger(__name__)

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
_CHAIN_FIELDS = ("prev_hash", "record_hash")
FILE_MODE = 0o600
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record of a chain that follows no other file."""
ROTATE_ACTION = "audit.rotate"
"""The ``action`` of a rotation's ``chain_start`` record, the first of a new file."""


class AuditUnwritableError(OSError):
    """The audit path cannot be created or appended to."""


def render_record(entry: AuditEntry) -> dict[str, Any]:
    """The record as the contract orders it, redacted; extras never overwrite core fields.

    The chain fields (``prev_hash``, ``record_hash``) are the writer's: ``AuditLog.append``
    adds them after redaction, last in the record.
    """
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
        if key not in record and key != "event_id" and key not in _CHAIN_FIELDS:
            record[key] = value
    record["event_id"] = entry.event_id
    redacted: dict[str, Any] = redact(record)
    return redacted


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """What a record's hash covers: the record without ``record_hash`` as JSON with
    sorted keys, no whitespace, non-ASCII kept, UTF-8."""
    body = {key: value for key, value in record.items() if key != "record_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``canonical_json(record)``; it covers ``prev_hash``, so the chain."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def chain(record: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """``record`` as written: its JSON round trip, then ``prev_hash`` and ``record_hash``."""
    chained: dict[str, Any] = json.loads(json.dumps(dict(record), ensure_ascii=False))
    for key in _CHAIN_FIELDS:
        chained.pop(key, None)
    chained["prev_hash"] = prev_hash
    chained["record_hash"] = record_hash(chained)
    return chained


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _unwritable(path: Path, error: OSError) -> AuditUnwritableError:
    return AuditUnwritableError(
        error.errno, f"audit log {path} is not writable: {error.strerror or error}"
    )


@dataclass(frozen=True)
class Rotation:
    """What ``AuditLog.rotate`` did: the archive, and the hash the new file starts from."""

    archive: Path
    last_hash: str
    chain_start: dict[str, Any]


class AuditLog:
    """Appends audit records to one file, deduplicated by ``event_id`` across processes,
    each record carrying the previous record's hash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._indexed_bytes = 0
        self._inode: tuple[int, int] | None = None
        self._last_hash: str | None = None

    def ensure_writable(self) -> None:
        """Create the file (mode 0600) if needed; ``AuditUnwritableError`` if it cannot be."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            os.close(fd)
        except OSError as error:
            raise _unwritable(self.path, error) from error

    def append(self, entry: AuditEntry) -> bool:
        """Write ``entry``, redacted and chained, unless its ``event_id`` is there; True if
        written.

        Raises:
            AuditUnwritableError: the file cannot be opened or written.
        """
        record = render_record(entry)
        with self._lock:
            fd = self._open_locked()
            try:
                self._index_new_records(fd)
                if entry.event_id in self._seen:
                    return False
                chained = chain(record, self._last_hash or GENESIS_HASH)
                self._write(fd, _line(chained))
                self._seen.add(entry.event_id)
                self._last_hash = chained["record_hash"]
                self._indexed_bytes = os.fstat(fd).st_size
                return True
            finally:
                os.close(fd)  # closing releases the flock

    def last_hash(self) -> str:
        """The hash the next record will name as ``prev_hash`` (read under the lock)."""
        with self._lock:
            fd = self._open_locked()
            try:
                self._index_new_records(fd)
                return self._last_hash or GENESIS_HASH
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
            fd = self._open_locked()
            try:
                self._index_new_records(fd)
                last = self._last_hash or GENESIS_HASH
                if archive.exists():
                    raise FileExistsError(f"archive {archive} exists")
                start = chain(
                    {
                        "timestamp": datetime.now(UTC).isoformat(),
                        "event_type": "audit",
                        "workspace_id": workspace_id,
                        "actor": actor or workspace_id or "approvals",
                        "action": ROTATE_ACTION,
                        "resource": archive.name,
                        "outcome": "chain_start",
                        "trace_id": "",
                        "follows": archive.name,
                        "follows_last_hash": last,
                        "event_id": f"audit/chain_start/{last}",
                    },
                    last,
                )
                fresh = self.path.with_name(f".{self.path.name}.rotating-{os.getpid()}")
                line = _line(start)
                try:
                    new_fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                    try:
                        self._write(new_fd, line)
                        new = os.fstat(new_fd)
                    finally:
                        os.close(new_fd)
                    os.link(self.path, archive)  # the old records keep their inode
                    os.replace(fresh, self.path)  # the path is never missing
                    _fsync_dir(self.path.parent)
                except FileExistsError:
                    fresh.unlink(missing_ok=True)
                    raise
                except OSError as error:
                    fresh.unlink(missing_ok=True)
                    raise _unwritable(self.path, error) from error
            finally:
                os.close(fd)
            self._inode = (new.st_dev, new.st_ino)
            self._indexed_bytes = len(line)
            self._last_hash = start["record_hash"]
            self._seen.add(start["event_id"])
            return Rotation(archive=archive, last_hash=last, chain_start=start)

    def _open_locked(self) -> int:
        """The file open and ``flock``-ed, the one the path names now (not one rotated away)."""
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
            except OSError as error:
                raise _unwritable(self.path, error) from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                opened = os.fstat(fd)
                named = os.stat(self.path)
            except FileNotFoundError:
                os.close(fd)
                continue
            except OSError as error:
                os.close(fd)
                raise _unwritable(self.path, error) from error
            if (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino):
                return fd
            os.close(fd)  # rotated while we waited for the lock: open the new file

    def _write(self, fd: int, data: bytes) -> None:
        """All of ``data`` and an fsync, or nothing: a failed write is cut off again."""
        start = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise _unwritable(self.path, error) from error

    def _index_new_records(self, fd: int) -> None:
        stat = os.fstat(fd)
        inode = (stat.st_dev, stat.st_ino)
        if inode != self._inode:  # a new file (rotated): its records, its chain
            self._inode = inode
            self._indexed_bytes = 0
            self._last_hash = None  # event ids seen stay: a retry still finds its record
        size = stat.st_size
        if size < self._indexed_bytes:  # truncated: start over
            self._seen.clear()
            self._indexed_bytes = 0
            self._last_hash = None
        if size == self._indexed_bytes:
            return
        chunk = os.pread(fd, size - self._indexed_bytes, self._indexed_bytes)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for number, raw in enumerate(complete.splitlines()):
            record = _parse(raw)
            if record is None:
                continue
            if number == 0 and self._indexed_bytes == 0:
                self._index_archive(record)
            event_id = record.get("event_id")
            if isinstance(event_id, str):
                self._seen.add(event_id)
            stored = record.get("record_hash")
            if isinstance(stored, str):
                self._last_hash = stored
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
                raise _unwritable(self.path, error) from error

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
                    record = _parse(raw)
                    event_id = record.get("event_id") if record else None
                    if isinstance(event_id, str):
                        self._seen.add(event_id)
        except OSError:
            return  # moved away or deleted: the new file's own records still count

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


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


# --- verifying a file -----------------------------------------------------------------

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
TRUNCATED = "truncated"
NOT_JSON = "not-json"
UNCHAINED = "unchained"
PROBLEM_KINDS = (EDITED, DELETED, INSERTED, REORDERED, TRUNCATED, NOT_JSON, UNCHAINED)


@dataclass(frozen=True)
class ChainProblem:
    """The first line that breaks the chain, and how (one of ``PROBLEM_KINDS``)."""

    path: Path
    line: int
    kind: str
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found in one file (or in the previous file it was asked to
    follow, when that one is already broken)."""

    path: Path
    records: int
    """Chained records checked (up to the problem, if any)."""
    last_hash: str
    """The ``record_hash`` of the last chained record: the value to anchor elsewhere."""
    unchained: int = 0
    """Records without hashes before the chain starts (files from before the chain)."""
    first_chained_line: int | None = None
    follows: str | None = None
    """The archive a rotation's ``chain_start`` names, if the file starts with one."""
    follows_checked: bool = False
    """Whether the link to the previous file was checked (``--follows``)."""
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line: ``OK ...`` or ``TAMPERED <path> line <n>: <kind>: <detail>``."""
        if self.problem is not None:
            p = self.problem
            return f"TAMPERED {p.path} line {p.line}: {p.kind}: {p.detail}"
        text = f"OK {self.path}: {self.records} records, last hash {self.last_hash}"
        if self.follows is not None or self.follows_checked:
            how = "checked" if self.follows_checked else "not checked: pass --follows"
            text += f"; continues from {self.follows or 'the previous file'} ({how})"
        if self.unchained:
            where = self.first_chained_line or self.unchained + 1
            text += (
                f"; WARNING {self.unchained} unchained records before line {where} "
                "(written before the chain, not protected)"
            )
        return text


def _strict_object(raw: bytes) -> dict[str, Any] | str:
    """The JSON object on a line, or why it is not one (duplicate keys are not allowed:
    a reader would see one value, the hash another)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        return "not UTF-8"
    except ValueError as error:
        return str(error).splitlines()[0] if str(error) else "not JSON"
    return value if isinstance(value, dict) else "not a JSON object"


def _read_shared(path: Path) -> bytes:
    """The whole file, read under a shared ``flock``: no half-written record of a live
    writer. ``OSError`` when it cannot be read."""
    with path.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        return handle.read()


def verify_chain(path: Path, *, follows: Path | None = None) -> ChainReport:
    """Check ``path``'s chain and report the first record that breaks it.

    ``follows``: the file this one was rotated from; it is verified first, and this
    file's chain must start from its last hash.

    Raises:
        OSError: a file cannot be read.
    """
    expected_start: str | None = None
    previous_name: str | None = None
    if follows is not None:
        previous = verify_chain(follows)
        if not previous.ok:
            return previous
        expected_start, previous_name = previous.last_hash, follows.name
    data = _read_shared(path)
    raws = data.split(b"\n")
    cut = not data.endswith(b"\n")
    if not cut or data == b"":
        raws = raws[:-1]
    records = [_strict_object(raw) for raw in raws]
    at: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        stored = record.get("record_hash") if isinstance(record, dict) else None
        if isinstance(stored, str):
            at.setdefault(stored, number)

    count, unchained = 0, 0
    last = expected_start or GENESIS_HASH
    first: int | None = None
    follows_name: str | None = None

    def report(problem: ChainProblem | None = None) -> ChainReport:
        return ChainReport(
            path=path,
            records=count,
            last_hash=last,
            unchained=unchained,
            first_chained_line=first,
            follows=follows_name or previous_name,
            follows_checked=expected_start is not None,
            problem=problem,
        )

    def broken(line: int, kind: str, detail: str) -> ChainReport:
        return report(ChainProblem(path=path, line=line, kind=kind, detail=detail))

    for number, record in enumerate(records, start=1):
        if cut and number == len(records):
            return broken(
                number, TRUNCATED, "the last line is cut off (no newline: a partial write?)"
            )
        if not isinstance(record, dict):
            return broken(number, NOT_JSON, record)
        if "record_hash" not in record and "prev_hash" not in record:
            if first is None:
                unchained += 1
                continue
            return broken(number, UNCHAINED, "a record without hashes inside the chain")
        stored = record.get("record_hash")
        if not isinstance(stored, str) or record_hash(record) != stored:
            return broken(number, EDITED, "record_hash does not match the record")
        if at[stored] != number:
            return broken(number, INSERTED, f"a copy of the record on line {at[stored]}")
        prev = record.get("prev_hash")
        if first is None:
            first = number
            if expected_start is not None:
                if prev != expected_start:
                    return broken(
                        number,
                        DELETED,
                        f"prev_hash is not the last hash of {previous_name} "
                        "(records missing between the files, or not the previous file)",
                    )
            elif record.get("action") == ROTATE_ACTION and prev == record.get("follows_last_hash"):
                name = record.get("follows")
                follows_name = name if isinstance(name, str) else "the previous file"
            elif prev != GENESIS_HASH:
                return broken(
                    number,
                    DELETED,
                    "the first record's prev_hash is neither the genesis value nor a "
                    "rotation's link: records before it are missing",
                )
        elif prev != last:
            where = at.get(prev) if isinstance(prev, str) else None
            following = records[number] if number < len(records) else None
            if where is not None and where > number:
                return broken(
                    number, REORDERED, f"prev_hash names the record on line {where}, after it"
                )
            if isinstance(following, dict) and following.get("prev_hash") == last:
                return broken(
                    number, INSERTED, "not in the chain: the next record follows the one before"
                )
            if where is not None and where < number:
                return broken(
                    where + 1,
                    INSERTED,
                    f"lines {where + 1}-{number - 1} are not in the chain: line {number} "
                    f"follows line {where}",
                )
            return broken(
                number,
                DELETED,
                "prev_hash names no record before it: records are missing (or the one "
                "before was rewritten with a new hash)",
            )
        count += 1
        last = stored
    return report()
