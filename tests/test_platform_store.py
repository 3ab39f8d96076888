"""The platform store's one list of columns and its one "open" predicate (plain code: a
SQLite file, no server)."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_approvals.devstack.platform.store import (
    OPEN_SQL,
    Approval,
    ExpireOutcome,
    NoticeOutcome,
    Status,
    Store,
)
from durable_approvals.devstack.platform.store.schema import COLUMNS, FIELDS, SELECT
from tests.test_inbox_platform import OLD_SCHEMA


def table_columns(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(approvals)")]


def set_status(path: Path, approval_id: str, status: Status) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE approvals SET status = ? WHERE id = ?", (status.value, approval_id))


def test_the_table_the_select_and_the_row_come_from_one_list(tmp_path):
    Store(tmp_path / "p.db").close()
    assert table_columns(tmp_path / "p.db") == [column.name for column in COLUMNS]
    assert [field.name for field in dataclasses.fields(Approval)] == [c.name for c in FIELDS]
    assert SELECT.startswith("SELECT id, workspace_id, ") and "idempotency_key" not in SELECT


def test_an_old_file_gets_every_column_a_new_file_has(tmp_path):
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as db:
        db.executescript(OLD_SCHEMA)
    store = Store(old)
    approval, _ = store.create("w", action="a", requester="r", approvals_required=2)
    store.close()
    assert sorted(table_columns(old)) == sorted(column.name for column in COLUMNS)
    assert (approval.requester, approval.approvals_required, approval.votes) == ("r", 2, ())


@pytest.mark.parametrize("status", list(Status))
def test_every_statement_agrees_on_what_is_open(tmp_path, status):
    """SQL (``OPEN_SQL``) and Python (``Status.is_open``) say the same for each status,
    in the list, the decision, the vote, the expiry, the notices and the strict auto-deny."""
    path = tmp_path / "p.db"
    store = Store(path)
    ids = [store.create("w", action="a", approvals_required=2)[0].id for _ in range(6)]
    for approval_id in ids:
        set_status(path, approval_id, status)
    is_open = status.is_open
    assert OPEN_SQL == "status IN ('escalated', 'pending')"
    assert is_open == (status in (Status.PENDING, Status.ESCALATED))

    assert {a.id for a in store.list_pending()} == (set(ids) if is_open else set())
    assert store.get("w", ids[0]).is_open == is_open
    decided = store.decide("w", ids[0], status=Status.APPROVED, decided_by="bob")
    assert (decided is not None) == is_open
    assert (store.vote("w", ids[1], status=Status.APPROVED, decided_by="bob") is not None) == (
        is_open
    )
    outcome, _ = store.expire("w", ids[2])
    assert (outcome is ExpireOutcome.EXPIRED) == is_open
    reminded, _ = store.remind("w", ids[3], reminder=1)
    escalated, _ = store.escalate("w", ids[4], escalated_to="lead", level=1)
    expected = NoticeOutcome.SHOWN if is_open else NoticeOutcome.CLOSED
    assert (reminded, escalated) == (expected, expected)
    later = datetime.now(UTC) + timedelta(seconds=60)
    still_open = [ids[1], ids[3], ids[4], ids[5]]  # a vote and the notices keep it open
    assert store.deny_stale(later, decided_by="auto-expired") == (4 if is_open else 0)
    for approval_id in still_open:
        assert store.get("w", approval_id).status is (Status.DENIED if is_open else status)
    store.close()
