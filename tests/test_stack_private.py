"""The dev stack's data directory is made private while the Temporal server writes in it:
a file that goes between the listing and its chmod (SQLite's rollback journal) is skipped,
and the stack does not exit over it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from durable_approvals.devstack.stack import make_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_file_gone_meanwhile_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    kept, journal = data / "temporal.db", data / "temporal.db-journal"
    for path in (kept, journal, data / "logs" / "worker.log"):
        path.write_text("x")
        path.chmod(0o644)
    chmod = Path.chmod

    def chmod_after_the_journal_went(self: Path, mode: int, **kwargs: bool) -> None:
        if self == journal:
            journal.unlink()  # SQLite removed it after rglob listed it
        chmod(self, mode, **kwargs)

    monkeypatch.setattr(Path, "chmod", chmod_after_the_journal_went)
    make_private(data)

    assert not journal.exists()
    assert mode(kept) == mode(data / "logs" / "worker.log") == 0o600
    assert mode(data) == mode(data / "logs") == 0o700
