"""The ``approvals`` table: one list of columns, from which the table, the select and
the migrations of an older file derive; and the one "still open" predicate.

``docs/platform-modes.md`` ("Storage") says why the rules are single statements.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TABLE = "approvals"


class Status(StrEnum):
    """Approval statuses; ``escalated`` is set by the [ext] escalate route only."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    ESCALATED = "escalated"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        """Still decidable: an escalated approval waits for a decision like a pending one."""
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({Status.PENDING, Status.ESCALATED})
OPEN_SQL = "status IN ({})".format(
    ", ".join(f"'{status.value}'" for status in sorted(OPEN_STATUSES))
)
"""``Status.is_open`` in SQL, for every statement that reads or changes an open approval."""


def _same(value: Any) -> Any:
    return value


def _json_unless_null(value: Any) -> Any:
    return json.loads(value) if value is not None else None


def _json_or_none(value: Any) -> Any:
    return json.loads(value) if value else None


def _json_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(json.loads(value)) if value else ()


def _json_tuple_or_none(value: Any) -> tuple[Any, ...] | None:
    return tuple(json.loads(value)) if value else None


@dataclass(frozen=True)
class Column:
    """One column: its SQL, whether ``Approval`` reads it, and whether a file made by the
    first platform lacks it (then opening the file adds it, NULL in the old rows)."""

    name: str
    sql_type: str
    constraints: str = ""
    """In ``CREATE TABLE`` only; an added column has none (SQLite's ``ADD COLUMN``)."""
    read: Callable[[Any], Any] | None = _same
    """The ``Approval`` field from the stored value; ``None``: not an ``Approval`` field."""
    added: bool = False

    def __post_init__(self) -> None:
        if self.added and self.constraints:
            raise ValueError(f"an added column cannot be constrained: {self.name}")

    def definition(self) -> str:
        return " ".join(part for part in (self.name, self.sql_type, self.constraints) if part)


COLUMNS = (
    Column("seq", "INTEGER", "PRIMARY KEY AUTOINCREMENT", read=None),
    Column("id", "TEXT", "NOT NULL UNIQUE"),
    Column("workspace_id", "TEXT", "NOT NULL"),
    Column("task_id", "TEXT"),
    Column("action", "TEXT", "NOT NULL"),
    Column("reason", "TEXT"),
    Column("context", "TEXT", read=_json_unless_null),
    Column("status", "TEXT", f"NOT NULL DEFAULT '{Status.PENDING.value}'", read=Status),
    Column("decided_by", "TEXT"),
    Column("decided_at", "TEXT"),
    Column("comment", "TEXT"),
    Column("created_at", "TEXT", "NOT NULL"),
    Column("idempotency_key", "TEXT", read=None),
    Column("requester", "TEXT", added=True),
    Column("expires_at", "TEXT", added=True),
    # [ext] the hash a decision approved and its edited args (docs/policies/edits.md)
    Column("decision_action_hash", "TEXT", added=True),
    Column("edited_args", "TEXT", read=_json_or_none, added=True),
    # [ext] escalation and reminders (docs/policies/escalation.md)
    Column("escalated_to", "TEXT", added=True),
    Column("escalated_at", "TEXT", added=True),
    Column("escalation_level", "INTEGER", added=True),
    Column("reminders", "INTEGER", added=True),  # how many were shown
    Column("reminded_at", "TEXT", added=True),
    # the highest reminder number shown: repeats show nothing
    Column("last_reminder", "INTEGER", read=None, added=True),
    # [ext] N-of-M (docs/policies/n-of-m.md)
    Column("approvals_required", "INTEGER", added=True),
    Column("votes", "TEXT", read=_json_tuple, added=True),
    Column("approvers", "TEXT", read=_json_tuple_or_none, added=True),
    # [ext] the platform's signature over the decision (docs/trust-model.md)
    Column("proof", "TEXT", added=True),
)
"""Every column of the table, in ``Approval``'s field order for those it reads."""

FIELDS = tuple(column for column in COLUMNS if column.read is not None)
"""The columns an ``Approval`` is made of (the select)."""
SELECT = f"SELECT {', '.join(column.name for column in FIELDS)} FROM {TABLE}"  # noqa: S608

_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (\n    "
    + ",\n    ".join(column.definition() for column in COLUMNS)
    + ",\n    UNIQUE (workspace_id, idempotency_key)\n);\n"
    f"CREATE INDEX IF NOT EXISTS approvals_workspace ON {TABLE} (workspace_id, seq);\n"
    f"CREATE INDEX IF NOT EXISTS approvals_status ON {TABLE} (status, seq);\n"
)


def create_or_migrate(db: sqlite3.Connection) -> None:
    """Create the table, or bring a file made by an older platform up to it: its missing
    columns are added (``ALTER TABLE ... ADD COLUMN``), its rows keep them NULL."""
    db.executescript(_CREATE)
    present = {row[1] for row in db.execute(f"PRAGMA table_info({TABLE})")}
    for column in COLUMNS:
        if column.added and column.name not in present:
            # Names and types are literals of this module, never input.
            db.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column.definition()}")


__all__ = [
    "COLUMNS",
    "FIELDS",
    "OPEN_SQL",
    "OPEN_STATUSES",
    "SELECT",
    "TABLE",
    "Column",
    "Status",
    "create_or_migrate",
]
