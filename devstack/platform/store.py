"""The platform's approvals in one SQLite file (WAL), kept across restarts.

"First decision wins" and ``Idempotency-Key`` are each decided by one SQL
statement; ``docs/platform-modes.md`` ("Storage") says why.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from durable_approvals.identity import identity_key, is_self_decision

LIST_LIMIT = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    workspace_id    TEXT    NOT NULL,
    task_id         TEXT,
    action          TEXT    NOT NULL,
    reason          TEXT,
    context         TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending',
    decided_by      TEXT,
    decided_at      TEXT,
    comment         TEXT,
    created_at      TEXT    NOT NULL,
    idempotency_key TEXT,
    requester       TEXT,
    expires_at      TEXT,
    approvals_required INTEGER,
    votes           TEXT,
    approvers       TEXT,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS approvals_workspace ON approvals (workspace_id, seq);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, seq);
"""

_COLUMNS = (
    "id, workspace_id, task_id, action, reason, context, status, "
    "decided_by, decided_at, comment, created_at, requester, expires_at, "
    "decision_action_hash, edited_args, "
    "escalated_to, escalated_at, escalation_level, reminders, reminded_at, "
    "approvals_required, votes, approvers, proof"
)

# Columns added after the first schema: (name, SQL type). A database file from
# before gets them added on open (``ALTER TABLE ... ADD COLUMN``), so old files
# keep working and their rows read back with these as NULL.
_ADDED_COLUMNS = (
    ("requester", "TEXT"),
    ("expires_at", "TEXT"),
    # [ext] the hash a decision approved and its edited args (docs/policies/edits.md)
    ("decision_action_hash", "TEXT"),
    ("edited_args", "TEXT"),
    # [ext] escalation and reminders (docs/policies/escalation.md)
    ("escalated_to", "TEXT"),
    ("escalated_at", "TEXT"),
    ("escalation_level", "INTEGER"),
    ("reminders", "INTEGER"),  # how many were shown
    ("reminded_at", "TEXT"),
    ("last_reminder", "INTEGER"),  # the highest reminder number shown: repeats show nothing
    # [ext] N-of-M (docs/policies/n-of-m.md)
    ("approvals_required", "INTEGER"),
    ("votes", "TEXT"),
    ("approvers", "TEXT"),
    # [ext] the platform's signature over the decision (docs/trust-model.md)
    ("proof", "TEXT"),
)
_OPEN = "status IN ('pending', 'escalated')"
"""Still decidable: an escalated approval waits for a decision like a pending one
(written out in the statements that update, so that each is one literal)."""


class Status(StrEnum):
    """Approval statuses; ``escalated`` is set by the [ext] escalate route only."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    ESCALATED = "escalated"
    EXPIRED = "expired"


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


def utc_now() -> str:
    """The current time in RFC 3339 UTC with a ``Z`` suffix, as the contract's timestamps."""
    return _rfc3339(datetime.now(UTC))


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Approval:
    """One row of the ``approvals`` table."""

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
        context = json.loads(row["context"]) if row["context"] is not None else None
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            task_id=row["task_id"],
            action=row["action"],
            reason=row["reason"],
            context=context,
            status=Status(row["status"]),
            decided_by=row["decided_by"],
            decided_at=row["decided_at"],
            comment=row["comment"],
            created_at=row["created_at"],
            requester=row["requester"],
            expires_at=row["expires_at"],
            decision_action_hash=row["decision_action_hash"],
            edited_args=json.loads(row["edited_args"]) if row["edited_args"] else None,
            escalated_to=row["escalated_to"],
            escalated_at=row["escalated_at"],
            escalation_level=row["escalation_level"],
            reminders=row["reminders"],
            reminded_at=row["reminded_at"],
            approvals_required=row["approvals_required"],
            votes=tuple(json.loads(row["votes"])) if row["votes"] else (),
            approvers=tuple(json.loads(row["approvers"])) if row["approvers"] else None,
            proof=row["proof"],
        )

    def args_fields(self) -> dict[str, Any]:
        """[ext] The request's args, schema and hash (from ``context``), and the decision's."""
        context = self.context if isinstance(self.context, dict) else {}
        if "args" not in context:
            return {}
        return {
            "args": context.get("args"),
            "args_schema": context.get("args_schema"),
            "action_hash": context.get("action_hash"),
            "decision_action_hash": self.decision_action_hash,
            "edited_args": self.edited_args,
        }

    def contract_item(self) -> dict[str, Any]:
        """The upstream contract's list item: no [ext] field (strict mode)."""
        return {
            "id": self.id,
            "task_id": self.task_id,
            "action": self.action,
            "reason": self.reason,
            "status": self.status.value,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "created_at": self.created_at,
        }

    def item(self) -> dict[str, Any]:
        """The shape of the workspace list and single-item routes, with the [ext] fields
        (``approvals_required`` and ``votes`` on a vote item only)."""
        item = {
            **self.contract_item(),
            "comment": self.comment,
            "requester": self.requester,
            "expires_at": self.expires_at,
            **self.args_fields(),
            **self._escalation_fields(),
            **({"proof": self.proof} if self.proof is not None else {}),
        }
        return {**item, **self._vote_fields()}

    def _escalation_fields(self) -> dict[str, Any]:
        return {
            "escalated_to": self.escalated_to,
            "escalated_at": self.escalated_at,
            "escalation_level": self.escalation_level or 0,
            "reminders": self.reminders or 0,
            "reminded_at": self.reminded_at,
        }

    def _vote_fields(self) -> dict[str, Any]:
        if self.approvals_required is None:
            return {}
        return {
            "approvals_required": self.approvals_required,
            "votes": [dict(vote) for vote in self.votes],
            "approvers": list(self.approvers) if self.approvers is not None else None,
        }

    def contract_pending_item(self) -> dict[str, Any]:
        """The upstream contract's ``/approvals/pending`` item: no [ext] field (strict mode).

        There is no workspace registry here, so the workspace's name is its id.
        """
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "workspace_name": self.workspace_id,
            "action": self.action,
            "reason": self.reason,
            "status": self.status.value,
            "created_at": self.created_at,
        }

    def pending_item(self) -> dict[str, Any]:
        """The shape of the cross-workspace ``/approvals/pending`` route, with the [ext] fields."""
        item = {
            **self.contract_pending_item(),
            "requester": self.requester,
            "expires_at": self.expires_at,
            **self.args_fields(),
            **self._escalation_fields(),
        }
        return {**item, **self._vote_fields()}


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
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a database file made by an older platform up to the current schema."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(approvals)")}
        for name, sql_type in _ADDED_COLUMNS:
            if name not in present:
                # Names and types are literals of this module, never input.
                self._db.execute(f"ALTER TABLE approvals ADD COLUMN {name} {sql_type}")

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
            _rfc3339(now + timedelta(seconds=timeout_seconds))
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
                    _rfc3339(now),
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
                f"SELECT {_COLUMNS} FROM approvals WHERE workspace_id = ? "  # noqa: S608
                "ORDER BY seq DESC LIMIT ?",
                (workspace_id, limit),
            ).fetchall()
        return [Approval.from_row(row) for row in rows]

    def list_pending(self, limit: int = LIST_LIMIT) -> list[Approval]:
        """Pending (and [ext] escalated) approvals of every workspace, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE {_OPEN} "  # noqa: S608
                "ORDER BY seq DESC LIMIT ?",
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
                f"id = ? AND workspace_id = ? AND {_OPEN}", (approval_id, workspace_id)
            )
            if (
                pending is not None
                and not allow_self_decision
                and is_self_decision(pending["requester"], decided_by)
            ):
                raise SelfDecisionRefused(approval_id)
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?, "
                "decision_action_hash = ?, edited_args = ?, proof = ? "
                "WHERE id = ? AND workspace_id = ? AND status IN ('pending', 'escalated')",
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
                f"id = ? AND workspace_id = ? AND {_OPEN} AND approvals_required IS NOT NULL",
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
            self._db.execute(
                "UPDATE approvals SET votes = ? "
                "WHERE id = ? AND status IN ('pending', 'escalated')",
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
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, comment = ? "
                "WHERE id = ? AND workspace_id = ? AND status IN ('pending', 'escalated')",
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
            cursor = self._db.execute(
                "UPDATE approvals SET reminders = COALESCE(reminders, 0) + 1, reminded_at = ?, "
                "last_reminder = ? "
                "WHERE id = ? AND workspace_id = ? AND status IN ('pending', 'escalated') "
                "AND COALESCE(last_reminder, 0) < ?",
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
        expires = _rfc3339(expires_at.astimezone(UTC)) if expires_at is not None else None
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, escalated_to = ?, escalated_at = ?, "
                "escalation_level = ?, expires_at = COALESCE(?, expires_at) "
                "WHERE id = ? AND workspace_id = ? AND status IN ('pending', 'escalated') "
                "AND COALESCE(escalation_level, 0) < ?",
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
        if approval.status in (Status.PENDING, Status.ESCALATED):
            return NoticeOutcome.REPEATED, approval
        return NoticeOutcome.CLOSED, approval

    def deny_stale(self, created_before: datetime, *, decided_by: str) -> int:
        """Deny every pending approval created before ``created_before`` (strict auto-deny).

        Returns:
            How many were denied (``decided_by`` as given, ``decided_at`` now).
        """
        with self._lock:  # one fixed RFC 3339 format: text order is time order
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? "
                "WHERE status = ? AND created_at < ?",
                (
                    Status.DENIED.value,
                    decided_by,
                    utc_now(),
                    Status.PENDING.value,
                    _rfc3339(created_before.astimezone(UTC)),
                ),
            )
        return int(cursor.rowcount)

    def count(self) -> int:
        """How many approvals exist in all workspaces (for tests and diagnostics)."""
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM approvals").fetchone()
        return int(total)

    def _select_one(self, where: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
        # Callers hold the lock; ``where`` is always a literal from this module.
        row: sqlite3.Row | None = self._db.execute(
            f"SELECT {_COLUMNS} FROM approvals WHERE {where}",  # noqa: S608
            params,
        ).fetchone()
        return row


__all__ = [
    "LIST_LIMIT",
    "Approval",
    "ExpireOutcome",
    "NotAnApprover",
    "NoticeOutcome",
    "SelfDecisionRefused",
    "Status",
    "Store",
    "utc_now",
]
