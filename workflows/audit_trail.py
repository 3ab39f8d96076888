"""One approval's audit records, written in the order things arrived.

Refusals and votes carry ``DecisionRules.stamp()`` numbers; the outcome (decided,
timeout, cancelled) carries the stamp of the decision or of the close. ``write_arrivals``
writes the ones not written yet in stamp order, up to a stamp when asked, so a refusal
that arrived before the outcome is written before it, whichever task saw both. Each
record's ``event_id`` is ``<workflow id>/<run id>/<key>``: rewriting one after a crash
is deduplicated by the audit log (docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from durable_approvals.models import AuditEntry, AuditOutcome, Decision
from durable_approvals.workflows.decision_rules import DecisionRules
from durable_approvals.workflows.votes import Tally

OUTCOME = "outcome"
"""The key of a run's one outcome record, whatever the outcome."""

Write = Callable[[AuditEntry], Awaitable[Any]]
"""Writes one record (the workflow's audit activity)."""


def who_decided(decision: Decision) -> dict[str, Any]:
    """The audit fields naming a decision's decider and approval, in the records' order."""
    return {
        "actor": decision.decided_by,
        "approval_id": decision.approval_id,
        "decided_by": decision.decided_by,
        "channel": decision.channel,  # docs/channels.md: where, and who there
        "channel_user": decision.channel_user,
    }


def answer(decision: Decision) -> str:
    return "approved" if decision.approved else "denied"


class AuditTrail:
    """The records of one run: what each says, its event id, and when it is written."""

    def __init__(
        self,
        *,
        run_key: str,
        workspace_id: str,
        resource: str,
        trace_id: str,
        rules: DecisionRules,
        tally: Tally | None,
        write: Write,
        clock: Callable[[], datetime],
        approver_group: str | None = None,
        approvals_required: int = 1,
    ) -> None:
        self._run_key = run_key
        self._workspace_id = workspace_id
        self._resource = resource
        self._trace_id = trace_id
        self._rules = rules
        self._tally = tally
        self._write = write
        self._clock = clock
        self._approver_group = approver_group
        self._approvals_required = approvals_required
        self.refusals_written = 0
        self.votes_written = 0
        self.requested_written = False
        self.after_vote: Callable[[], None] = lambda: None
        """Called once each vote's record is written (the channels' notice)."""

    async def record(
        self,
        key: str,
        *,
        outcome: str,
        event_type: str = "approval",
        action: str = "approve",
        actor: str | None = None,
        write: Write | None = None,
        **extra: Any,
    ) -> None:
        """Write one record (with ``write``, else the trail's); ``None`` fields are left out."""
        entry = AuditEntry(
            event_id=f"{self._run_key}/{key}",
            timestamp=self._clock(),
            event_type=event_type,
            workspace_id=self._workspace_id,
            actor=actor,
            action=action,
            resource=self._resource,
            outcome=outcome,
            trace_id=self._trace_id,
            extra={k: v for k, v in extra.items() if v is not None},
        )
        await (write or self._write)(entry)

    async def record_requested(self, approval_id: str, reason: str, **args: Any) -> None:
        await self.record(
            "requested",
            outcome=AuditOutcome.REQUESTED,
            approval_id=approval_id,
            reason_text=reason,
            **args,
        )
        self.requested_written = True

    # --- refusals and votes, in arrival order ------------------------------------

    def refusals_unwritten(self) -> bool:
        return self.refusals_written < len(self._rules.refusals)

    def votes_unwritten(self) -> bool:
        return self._tally is not None and self.votes_written < len(self._tally.votes)

    def next_arrival(self) -> tuple[str, int] | None:
        """``("vote" | "refusal", stamp)`` of the first unwritten arrival, or ``None``."""
        tally = self._tally
        vote_at = (
            tally.vote_arrivals[self.votes_written]
            if tally is not None and self.votes_unwritten()
            else None
        )
        refusal_at = (
            self._rules.refusals[self.refusals_written].arrival
            if self.refusals_unwritten()
            else None
        )
        first = min((at for at in (vote_at, refusal_at) if at is not None), default=None)
        if first is None:
            return None
        return ("vote" if first == vote_at else "refusal", first)

    async def write_arrivals(self, before: int | None = None) -> None:
        """Write the votes and refusals not written yet, in arrival order; with ``before``,
        only those that arrived before that stamp (``DecisionRules.stamp``)."""
        while (arrival := self.next_arrival()) is not None:
            kind, stamp = arrival
            if before is not None and stamp >= before:
                return
            if kind == "vote":
                await self._write_next_vote()
            else:
                await self._write_next_refusal()

    async def _write_next_vote(self) -> None:
        assert self._tally is not None
        vote = self._tally.votes[self.votes_written]
        counted = self._tally.votes[: self.votes_written + 1]
        # Counted once written, as refusals are.
        await self.record(
            f"voted-{self.votes_written + 1}",
            outcome=AuditOutcome.VOTED,
            **who_decided(vote),
            decision=answer(vote),
            comment=vote.comment,
            approvals=sum(1 for v in counted if v.approved),
            approvals_required=self._approvals_required,
            approver_group=self._approver_group,
            via=vote.source.value,
        )
        self.votes_written += 1
        self.after_vote()

    async def _write_next_refusal(self) -> None:
        refusal = self._rules.refusals[self.refusals_written]
        decision = refusal.decision
        # Counted once written: an interrupted write is redone, deduplicated by event_id.
        await self.record(
            f"rejected-{self.refusals_written + 1}",
            outcome=AuditOutcome.REJECTED,
            **who_decided(decision),
            decision=answer(decision),
            rejected_because=refusal.because,
            via=decision.source.value,
            action_hash=decision.action_hash,
            edited=decision.edited_args is not None or None,
        )
        self.refusals_written += 1

    # --- the outcome: what arrived before it, it, then what arrived after --------

    async def record_outcome(self, **fields: Any) -> None:
        """The outcome record, then the arrivals not written yet (they came after it: the
        caller wrote the earlier ones with ``write_arrivals(before=...)``).

        Every outcome of a run (decided, timeout, cancelled) has the one key ``OUTCOME``:
        a stale workflow task that concluded otherwise writes under the same event id,
        and the audit log keeps one (docs/internals.md, "One outcome record")."""
        await self.record(OUTCOME, **fields)
        await self.write_arrivals()
