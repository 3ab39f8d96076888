"""``Store``: the platform's approvals in one SQLite file (WAL), kept across restarts.

"First decision wins" and ``Idempotency-Key`` are each decided by one SQL
statement; ``docs/platform-modes.md`` ("Storage") says why. Every statement that
reads or changes an open approval says so with ``schema.OPEN_SQL``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from durable_approvals.devstack.platform.store.approval import Approval
from durable_approvals.devstack.platform.store.schema import (
    OPEN_SQL,
    SELECT,
    TABLE,
    Status,
    create_or_migrate,
)
from durable_approvals.devstack.platform.store.times import rfc3339, utc_now
from durable_approvals.identity import identity_key, is_self_decision

LIST_LIMIT = 50


class ExpireOutcome(StrEnum):
    """What ``Store.expire`` found, so the route can pick 200, 404 or 409."""

    EXPIRED = "expired"  # it was pending and is expired now
    ALREADY_EXPIRED = "already_expired"
    DECIDED = "decided"
    NOT_FOUND = "not_found"


class NoticeOutcome(StrEnum):
    """What ``Store.remind`` and ``Store.escalate`` found."""

    SHOWN = "shown"  # new: broadcast it
    REPEATED = "repeated"  # this reminder or level was shown already
    CLOSED = "closed"  # decided or expired
    NOT_FOUND = "not_found"


class SelfDecisionRefused(Exception):
    """The decider is the approval's requester; nothing was stored."""


class NotAnApprover(Exception):
    """[ext] N-of-M: the voter is not among the vote item's approvers; nothing was stored."""


class Store:
    """The approvals table behind one SQLite connection, shared under a lock.

    Every method is one short transaction; safe from the event loop and from threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Autocommit: each statement is its own transaction, the rules' granularity.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # Survives a process crash; only power loss can lose the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            create_or_migrate(self._db)

    def close(self) -> None:
        """Close the connection; the WAL is checkpointed into the main file."""
        with self._lock:
            self._db.close()

    def create(
        self,
        workspace_id: str,
        *,
        action: str,
        reason: str | None = None,
        task_id: str | None = None,
        context: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        requester: str | None = None,
        timeout_seconds: float | None = None,
        approvals_required: int | None = None,
        approvers: list[str] | None = None,
    ) -> tuple[Approval, bool]:
        """Insert a pending approval.

        Args:
            workspace_id: the workspace it belongs to.
            action: what is asked; ``reason``, ``task_id``, ``context`` as sent.
            idempotency_key: a key already used in this workspace inserts nothing.
            requester: who asks; may not decide it (see ``decide``).
            timeout_seconds: sets ``expires_at`` (shown only: nothing expires by itself).
            approvals_required: makes it a vote item (``vote``); ``approvers``, the only
                deciders it takes votes from.

        Returns:
            The approval and whether it was created now (``False``: the key's
            first approval).
        """
        approval_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        expires_at = (
            rfc3339(now + timedelta(seconds=timeout_seconds))
            if timeout_seconds is not None
            else None
        )
        context_text = json.dumps(context) if context is not None else None
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO approvals (id, workspace_id, task_id, action, reason, context, "
                "status, created_at, idempotency_key, requester, expires_at, approvals_required, "
                "approvers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
                (
                    approval_id,
                    workspace_id,
                    task_id,
                    action,
                    reason,
                    context_text,
                    Status.PENDING.value,
                    rfc3339(now),
                    idempotency_key,
                    requester,
                    expires_at,
                    approvals_required,
                    json.dumps(approvers) if approvers is not None else None,
                ),
            )
            created = cursor.rowcount == 1
            if created:
                row = self._select_one("id = ?", (approval_id,))
            else:
                row = self._select_one(
                    "workspace_id = ? AND idempotency_key = ?", (workspace_id, idempotency_key)
                )
        assert row is not None  # inserted now, or the conflicting row exists
        return Approval.from_row(row), created

    def get(self, workspace_id: str, approval_id: str) -> Approval | None:
        """One approval of one workspace, or ``None`` (another workspace's id too)."""
        with self._lock:
            row = self._select_one("id = ? AND workspace_id = ?", (approval_id, workspace_id))
        return Approval.from_row(row) if row is not None else None

    def list_recent(self, workspace_id: str, limit: int = LIST_LIMIT) -> list[Approval]:
        """The newest ``limit`` approvals of a workspace, newest first (by insertion order)."""
        with self._lock:
            rows = self._db.execute(
                f"{SELECT} WHERE workspace_id = ? ORDER BY seq DESC LIMIT ?",
                (workspace_id, limit),
            ).fetchall()
        return [Approval.from_row(row) for row in rows]

    def list_pending(self, limit: int = LIST_LIMIT) -> list[Approval]:
        """Pending (and [ext] escalated) approvals of every workspace, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"{SELECT} WHERE {OPEN_SQL} ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Approval.from_row(row) for row in rows]

    def decide(
        self,
        workspace_id: str,
        approval_id: str,
        *,
        status: Status,
        decided_by: str,
        comment: str | None = None,
        allow_self_decision: bool = False,
        action_hash: str | None = None,
        edited_args: dict[str, Any] | None = None,
        decided_at: str | None = None,
        proof: str | None = None,
    ) -> Approval | None:
        """Record a decision if the approval is still pending.

        Args:
            status: ``APPROVED`` or ``DENIED``.
            decided_by: who decided; ``comment`` is stored with it.
            allow_self_decision: let the requester decide (no ``SelfDecisionRefused``).
            decided_at: the time to record (now if omitted); ``proof``, its signature.

        Returns:
            The decided approval, or ``None`` when it is unknown, another
            workspace's, already decided or expired (the contract's one 404).

        Raises:
            SelfDecisionRefused: ``decided_by`` is the requester
                (``approvals.identity``); the approval stays pending.
        """
        if status not in (Status.APPROVED, Status.DENIED):
            raise ValueError(f"not a decision: {status!r}")
        with self._lock:
            pending = self._select_one(
                f"id = ? AND workspace_id = ? AND {OPEN_SQL}", (approval_id, workspace_id)
            )
            if (
                pending is not None
                and not allow_self_decision
                and is_self_decision(pending["requester"], decided_by)
            ):
                raise SelfDecisionRefused(approval_id)
            cursor = self._update(
                "status = ?, decided_by = ?, decided_at = ?, comment = ?, "
                "decision_action_hash = ?, edited_args = ?, proof = ?",
                f"id = ? AND workspace_id = ? AND {OPEN_SQL}",
                (
                    status.value,
                    decided_by,
                    decided_at or utc_now(),
                    comment,
                    action_hash,
                    json.dumps(edited_args) if edited_args is not None else None,
                    proof,
                    approval_id,
                    workspace_id,
                ),
            )
            if cursor.rowcount != 1:
                return None
            row = self._select_one("id = ?", (approval_id,))
        assert row is not None
        return Approval.from_row(row)

    def vote(
        self,
        workspace_id: str,
        approval_id: str,
        *,
        status: Status,
        decided_by: str,
        comment: str | None = None,
        decided_at: str | None = None,
        proof: str | None = None,
        action_hash: str | None = None,
    ) -> tuple[Approval, bool] | None:
        """Record a vote on a pending vote item; the item stays pending (N-of-M).
        ``action_hash``: the hash the vote names (a request with args), kept with the vote.

        A decider's vote with the same answer is kept once (names compare as
        ``approvals.identity`` does). Counting is the workflow's: it closes the item with
        a final decision (``decide``).

        Returns:
            The item and whether the vote is new; ``None`` when it is unknown, another
            workspace's, not a vote item, or no longer pending.

        Raises:
            SelfDecisionRefused: ``decided_by`` is the requester; nothing is stored.
            NotAnApprover: the item names its approvers and ``decided_by`` is not one.
        """
        if status not in (Status.APPROVED, Status.DENIED):
            raise ValueError(f"not a decision: {status!r}")
        with self._lock:
            row = self._select_one(
                f"id = ? AND workspace_id = ? AND {OPEN_SQL} AND approvals_required IS NOT NULL",
                (approval_id, workspace_id),
            )
            if row is None:
                return None
            if is_self_decision(row["requester"], decided_by):
                raise SelfDecisionRefused(approval_id)
            if row["approvers"] is not None and identity_key(decided_by) not in {
                identity_key(name) for name in json.loads(row["approvers"])
            }:
                raise NotAnApprover(approval_id)
            votes = list(json.loads(row["votes"])) if row["votes"] else []
            key = identity_key(decided_by)
            if any(
                identity_key(v.get("decided_by")) == key and v.get("decision") == status.value
                for v in votes
            ):
                return Approval.from_row(row), False
            vote = {
                "decided_by": decided_by,
                "decision": status.value,
                "comment": comment,
                "decided_at": decided_at or utc_now(),
            }
            if action_hash is not None:  # [ext] the hash it approves (docs/policies/edits.md)
                vote["action_hash"] = action_hash
            votes.append({**vote, "proof": proof} if proof is not None else vote)
            self._update(
                "votes = ?",
                f"id = ? AND {OPEN_SQL}",
                (json.dumps(votes), approval_id),
            )
            updated = self._select_one("id = ?", (approval_id,))
        assert updated is not None
        return Approval.from_row(updated), True

    def expire(
        self, workspace_id: str, approval_id: str, *, reason: str | None = None
    ) -> tuple[ExpireOutcome, Approval | None]:
        """Close a pending approval so that nobody can decide it any more.

        The time goes to ``decided_at``, ``reason`` to ``comment``; ``decided_by`` stays empty.

        Returns:
            What was found, and the approval unless ``NOT_FOUND``.
        """
        with self._lock:
            cursor = self._update(
                "status = ?, decided_at = ?, comment = ?",
                f"id = ? AND workspace_id = ? AND {OPEN_SQL}",
                (Status.EXPIRED.value, utc_now(), reason, approval_id, workspace_id),
            )
            row = self._select_one("id = ? AND workspace_id = ?", (approval_id, workspace_id))
        if row is None:
            return ExpireOutcome.NOT_FOUND, None
        approval = Approval.from_row(row)
        if cursor.rowcount == 1:
            return ExpireOutcome.EXPIRED, approval
        if approval.status is Status.EXPIRED:
            return ExpireOutcome.ALREADY_EXPIRED, approval
        return ExpireOutcome.DECIDED, approval

    def remind(
        self, workspace_id: str, approval_id: str, *, reminder: int
    ) -> tuple[NoticeOutcome, Approval | None]:
        """[ext] Count reminder number ``reminder`` of an open approval, unless a number as
        high was shown already (a retried or redone call)."""
        with self._lock:
            cursor = self._update(
                "reminders = COALESCE(reminders, 0) + 1, reminded_at = ?, last_reminder = ?",
                f"id = ? AND workspace_id = ? AND {OPEN_SQL} AND COALESCE(last_reminder, 0) < ?",
                (utc_now(), reminder, approval_id, workspace_id, reminder),
            )
            row = self._select_one("id = ? AND workspace_id = ?", (approval_id, workspace_id))
        return self._notice(cursor.rowcount, row)

    def escalate(
        self,
        workspace_id: str,
        approval_id: str,
        *,
        escalated_to: str,
        level: int,
        expires_at: datetime | None = None,
    ) -> tuple[NoticeOutcome, Approval | None]:
        """[ext] Escalate an open approval to ``escalated_to`` (once per ``level``): status
        ``escalated``, still decidable; ``expires_at`` moves the shown deadline."""
        expires = rfc3339(expires_at.astimezone(UTC)) if expires_at is not None else None
        with self._lock:
            cursor = self._update(
                "status = ?, escalated_to = ?, escalated_at = ?, escalation_level = ?, "
                "expires_at = COALESCE(?, expires_at)",
                f"id = ? AND workspace_id = ? AND {OPEN_SQL} AND COALESCE(escalation_level, 0) < ?",
                (
                    Status.ESCALATED.value,
                    escalated_to,
                    utc_now(),
                    level,
                    expires,
                    approval_id,
                    workspace_id,
                    level,
                ),
            )
            row = self._select_one("id = ? AND workspace_id = ?", (approval_id, workspace_id))
        return self._notice(cursor.rowcount, row)

    @staticmethod
    def _notice(rowcount: int, row: sqlite3.Row | None) -> tuple[NoticeOutcome, Approval | None]:
        if row is None:
            return NoticeOutcome.NOT_FOUND, None
        approval = Approval.from_row(row)
        if rowcount == 1:
            return NoticeOutcome.SHOWN, approval
        if approval.is_open:
            return NoticeOutcome.REPEATED, approval
        return NoticeOutcome.CLOSED, approval

    def deny_stale(self, created_before: datetime, *, decided_by: str) -> int:
        """Deny every open approval created before ``created_before`` (strict auto-deny;
        an escalated one exists only in a file written in reference mode).

        Returns:
            How many were denied (``decided_by`` as given, ``decided_at`` now).
        """
        with self._lock:  # one fixed RFC 3339 format: text order is time order
            cursor = self._update(
                "status = ?, decided_by = ?, decided_at = ?",
                f"{OPEN_SQL} AND created_at < ?",
                (
                    Status.DENIED.value,
                    decided_by,
                    utc_now(),
                    rfc3339(created_before.astimezone(UTC)),
                ),
            )
        return int(cursor.rowcount)

    def count(self) -> int:
        """How many approvals exist in all workspaces (for tests and diagnostics)."""
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM approvals").fetchone()
        return int(total)

    def _update(self, assignments: str, where: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        # Callers hold the lock; ``assignments`` and ``where`` are literals of this module.
        return self._db.execute(
            f"UPDATE {TABLE} SET {assignments} WHERE {where}",  # noqa: S608
            params,
        )

    def _select_one(self, where: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
        # Callers hold the lock; ``where`` is always a literal from this module.
        row: sqlite3.Row | None = self._db.execute(
            f"{SELECT} WHERE {where}",
            params,
        ).fetchone()
        return row


__all__ = [
    "LIST_LIMIT",
    "ExpireOutcome",
    "NotAnApprover",
    "NoticeOutcome",
    "SelfDecisionRefused",
    "Store",
]
