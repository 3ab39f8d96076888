"""How an approval's status query reads in a line: waiting, votes, escalation."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from durable_approvals.models import ApprovalStatusView


def waiting_line(view: ApprovalStatusView, started: float) -> str:
    """``waiting for approval a-1: elapsed 3s, time left 57s, 1 of 2 approvals (alice)``."""
    elapsed = time.monotonic() - started
    left = ""
    if view.deadline is not None:
        remaining = max((view.deadline - datetime.now(UTC)).total_seconds(), 0.0)
        left = f", time left {remaining:.0f}s"
    if view.escalated_to is not None:
        left += f", escalated to {view.escalated_to}"
    votes = f", {votes_line(view)}" if counts_votes(view) else ""
    return f"waiting for approval {view.approval_id}: elapsed {elapsed:.0f}s{left}{votes}"


def counts_votes(view: ApprovalStatusView) -> bool:
    """Whether the request counts votes (N-of-M)."""
    return view.approvals_required > 1 or view.approver_group is not None


def votes_line(view: ApprovalStatusView) -> str:
    """``1 of 2 approvals (alice)``: the N-of-M progress of a request that counts votes."""
    approvers = [vote.decided_by for vote in view.votes if vote.approved]
    names = f" ({', '.join(approvers)})" if approvers else ""
    return f"{len(approvers)} of {view.approvals_required} approvals{names}"


def escalation_line(view: ApprovalStatusView) -> str:
    """The escalation state in words, for ``show``."""
    parts = [f"escalated to {view.escalated_to} ({view.escalations}x)"] if view.escalated_to else []
    parts.append(f"{view.reminders} reminder(s)")
    if view.next_reminder_at is not None:
        parts.append(f"next reminder at {view.next_reminder_at.isoformat(timespec='seconds')}")
    return ", ".join(parts)
