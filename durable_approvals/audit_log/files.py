"""The audit file's system calls: open under ``flock``, write all or nothing, fsync."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

FILE_MODE = 0o600


class AuditUnwritableError(OSError):
    """The audit path cannot be created or appended to."""


def unwritable(path: Path, error: OSError) -> AuditUnwritableError:
    """``error`` as the writer raises it, naming ``path``."""
    return AuditUnwritableError(
        error.errno, f"audit log {path} is not writable: {error.strerror or error}"
    )


def ensure_file(path: Path) -> None:
    """Create ``path`` (mode 0600) and its directory if needed.

    Raises:
        AuditUnwritableError: it cannot be created or opened for appending.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.close(fd)
    except OSError as error:
        raise unwritable(path, error) from error


def open_locked(path: Path) -> int:
    """The file open (``O_APPEND``) and ``flock``-ed, the one the path names now (not one
    rotated away while we waited for the lock). Closing the descriptor releases the lock.

    Raises:
        AuditUnwritableError: it cannot be opened or locked.
    """
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as error:
            raise unwritable(path, error) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            opened = os.fstat(fd)
            named = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        except OSError as error:
            os.close(fd)
            raise unwritable(path, error) from error
        if (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino):
            return fd
        os.close(fd)  # rotated while we waited for the lock: open the new file


def write_all(fd: int, data: bytes, path: Path) -> None:
    """All of ``data`` and an fsync, or nothing: a failed write is cut off again.

    Raises:
        AuditUnwritableError: the write or the fsync failed (the file is as before).
    """
    start = os.fstat(fd).st_size
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise unwritable(path, error) from error


def read_shared(path: Path) -> bytes:
    """The whole file, read under a shared ``flock``: no half-written record of a live
    writer.

    Raises:
        OSError: it cannot be read.
    """
    with path.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        return handle.read()


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "FILE_MODE",
    "AuditUnwritableError",
    "ensure_file",
    "fsync_dir",
    "open_locked",
    "read_shared",
    "unwritable",
    "write_all",
]
