"""Rotation: the file moves to an archive, and a new file starts with a ``chain_start``
that names the archive and its last hash (docs/audit.md, "Rotation")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_approvals.audit_log.files import FILE_MODE, fsync_dir, unwritable, write_all
from durable_approvals.audit_log.record import encode_line


@dataclass(frozen=True)
class Rotation:
    """What ``AuditLog.rotate`` did: the archive, and the hash the new file starts from."""

    archive: Path
    last_hash: str
    chain_start: dict[str, Any]


def swap_in(path: Path, archive: Path, start: dict[str, Any]) -> os.stat_result:
    """Hard-link ``path`` to ``archive``, then rename a new file holding only ``start``
    over ``path``: the path is never missing. The caller holds the writers' lock.

    Returns:
        The new file's ``stat`` (its inode and size).

    Raises:
        FileExistsError: ``archive`` exists.
        AuditUnwritableError: the new file cannot be written or renamed.
    """
    if archive.exists():
        raise FileExistsError(f"archive {archive} exists")
    fresh = path.with_name(f".{path.name}.rotating-{os.getpid()}")
    try:
        new_fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            write_all(new_fd, encode_line(start), path)
            new = os.fstat(new_fd)
        finally:
            os.close(new_fd)
        os.link(path, archive)  # the old records keep their inode
        os.replace(fresh, path)
        fsync_dir(path.parent)
    except FileExistsError:
        fresh.unlink(missing_ok=True)
        raise
    except OSError as error:
        fresh.unlink(missing_ok=True)
        raise unwritable(path, error) from error
    return new


__all__ = ["Rotation", "swap_in"]
