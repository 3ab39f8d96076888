"""``Approval``: one row of the table, read through its columns (``schema.FIELDS``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from durable_approvals.devstack.platform.store import wire
from durable_approvals.devstack.platform.store.schema import FIELDS, Status


@dataclass(frozen=True)
class Approval:
    """One row of the ``approvals`` table; its fields are ``schema.FIELDS``, in order."""

    id: str
    workspace_id: str
    task_id: str | None
    action: str
    reason: str | None
    context: dict[str, Any] | None
    status: Status
    decided_by: str | None
    decided_at: str | None
    comment: str | None
    created_at: str
    requester: str | None = None
    expires_at: str | None = None
    decision_action_hash: str | None = None
    edited_args: dict[str, Any] | None = None
    escalated_to: str | None = None
    escalated_at: str | None = None
    escalation_level: int | None = None
    reminders: int | None = None
    reminded_at: str | None = None
    approvals_required: int | None = None
    """[ext] N-of-M: set, the decide route records votes (``Store.vote``) until a final one."""
    votes: tuple[dict[str, Any], ...] = ()
    approvers: tuple[str, ...] | None = None
    """[ext] N-of-M: the only deciders whose votes a vote item takes; ``None``: anyone."""
    proof: str | None = None
    """[ext] The platform's signature over the decision (durable_approvals/proof.py)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Approval:
        """The approval a row of ``schema.SELECT`` holds."""
        fields = {column.name: column.read(row[column.name]) for column in FIELDS if column.read}
        return cls(**fields)

    @property
    def is_open(self) -> bool:
        """Still decidable (``Status.is_open``, ``schema.OPEN_SQL`` in SQL)."""
        return self.status.is_open

    def args_fields(self) -> dict[str, Any]:
        """[ext] The request's args, schema and hash (``wire.args_fields``)."""
        return wire.args_fields(self)

    def contract_item(self) -> dict[str, Any]:
        """The upstream contract's list item (``wire.contract_item``)."""
        return wire.contract_item(self)

    def item(self) -> dict[str, Any]:
        """The list and single-item routes' shape with the [ext] fields (``wire.item``)."""
        return wire.item(self)

    def contract_pending_item(self) -> dict[str, Any]:
        """The upstream contract's pending item (``wire.contract_pending_item``)."""
        return wire.contract_pending_item(self)

    def pending_item(self) -> dict[str, Any]:
        """The pending route's shape with the [ext] fields (``wire.pending_item``)."""
        return wire.pending_item(self)


__all__ = ["Approval"]
