"""Which decision an approval takes: a plain class, deterministic, tested without Temporal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from durable_approvals.identity import SELF_APPROVAL, is_self_decision
from durable_approvals.models import Decision, DecisionSource

UNKNOWN_APPROVAL = "unknown approval"
LATE = "late"
CONFLICTING = "conflicting"
REPEATED = "repeated"
"""Not a refusal: the ``decide_update`` verdict's reason for a decision taken already."""
UNVERIFIED = "unverified"
"""Refused for lack of the platform's valid proof (workflows/proof_check.py)."""


class Verdict(StrEnum):
    TAKEN = "taken"
    REPEATED = "repeated"
    REFUSED = "refused"


@dataclass(frozen=True)
class Refusal:
    decision: Decision
    because: str
    arrival: int = field(default=0, compare=False)
    """``DecisionRules.stamp()`` when it was refused: the audit writes in arrival order."""


@dataclass
class DecisionRules:
    """The decision state of one approval."""

    requester: str
    approval_id: str | None = None
    decision: Decision | None = None
    closed: bool = False
    refusals: list[Refusal] = field(default_factory=list)
    arrivals: int = 0
    """How many stamps were given: refusals, votes, the decision and the close."""
    decided_at_arrival: int | None = None
    """The stamp of ``decision`` (what arrived before it is audited before it)."""
    closed_at_arrival: int | None = None
    """The stamp of the first ``close()``."""
    binding: Callable[[Decision], str | None] | None = None
    """The args binding (workflows/args_binding.py): why a decision is refused, or None."""
    verify: Callable[[Decision], str | None] | None = None
    """The proof rule (workflows/proof_check.py): why a decision is refused, or None."""
    deadline: datetime | None = None
    """The deadline in force (the last one, escalation included): a decision made at or
    after it is late, whichever path brings it and whenever it arrives."""
    clock: Callable[[], datetime] | None = None
    """The arrival time of a decision being offered (``workflow.now()``)."""

    def made_at(self, decision: Decision, *, made_in_time: bool = False) -> datetime | None:
        """When ``decision`` was made: the platform's ``decided_at`` for a decision read
        from the platform, its arrival for one a client sent (a client's own date is not
        evidence); ``None``: unknown (a platform decision without a date found by the
        expiry, ``made_in_time``: it was made before the expiry closed the request)."""
        made = decision.decided_at if decision.source is not DecisionSource.CLIENT else None
        if made is None and not made_in_time and self.clock is not None:
            made = self.clock()
        if made is not None and made.tzinfo is None:
            made = made.replace(tzinfo=UTC)
        return made

    def is_late(self, decision: Decision, *, made_in_time: bool = False) -> bool:
        """Rule 4: after ``close()`` (unless ``made_in_time``), or made at or after the
        deadline (``made_at``), whatever else is true."""
        if self.closed and not made_in_time:
            return True
        made = self.made_at(decision, made_in_time=made_in_time)
        return self.deadline is not None and made is not None and made >= self.deadline

    def unverified(self, decision: Decision) -> str | None:
        """Why ``verify`` refuses ``decision`` (``unverified``), or None (also without it)."""
        return self.verify(decision) if self.verify is not None else None

    def offer(self, decision: Decision, *, made_in_time: bool = False) -> Verdict:
        """Apply the rules, in order; a refusal is appended to ``refusals`` once per answer.

        1. another approval (or none yet): refused, ``unknown approval``;
        2. the decision already taken, seen again: ``REPEATED``, nothing changes;
        2b. without the proof ``verify`` requires: refused, ``unverified`` (its name is
            not trusted, so no rule below that reads the name applies);
        3. by the requester: refused, ``self-approval``;
        4. after ``close()``, unless ``made_in_time`` (the expiry read it), or made at or
           after ``deadline`` (``is_late``): refused, ``late``;
        4b. not bound to the request's args (``binding``): refused with its reason;
        5. another answer after the first: refused, ``conflicting``;
        6. else taken; a late refusal of the same answer is withdrawn.
        """
        because = self.check(decision, made_in_time=made_in_time)
        if because is not None:
            return self._refuse(decision, because)
        if self.decision is not None:  # check() lets a decision through then only if the same
            return Verdict.REPEATED
        self.decision = decision
        if made_in_time:  # its copy refused as late was made in time after all
            self.refusals = [r for r in self.refusals if not _late_copy_of(r, decision)]
        self.decided_at_arrival = self.stamp()
        return Verdict.TAKEN

    def check(self, decision: Decision, *, made_in_time: bool = False) -> str | None:
        """Why ``offer`` would refuse ``decision`` (rules 1-5), or ``None``: it would be taken,
        or it is the decision taken already (``REPEATED``). Pure: nothing changes, nothing is
        recorded (the ``decide_update`` validator's check)."""
        if decision.approval_id != self.approval_id or self.approval_id is None:
            return UNKNOWN_APPROVAL
        if self.decision is not None and self.decision.same_answer(decision):
            return None
        if (why := self.unverified(decision)) is not None:
            return why  # its name is not trusted: no rule below that reads it applies
        if is_self_decision(self.requester, decision.decided_by):
            return SELF_APPROVAL
        if self.is_late(decision, made_in_time=made_in_time):
            return LATE
        unbound = self.binding(decision) if self.binding is not None else None
        if unbound is not None:
            return unbound
        if self.decision is not None:
            return CONFLICTING
        return None

    def refuse(self, decision: Decision, because: str) -> Verdict:
        """Refuse ``decision`` for a reason of a caller's own (``workflows.votes``)."""
        return self._refuse(decision, because)

    def close(self) -> None:
        """The wait is over: from now on every new decision is late."""
        if not self.closed:
            self.closed_at_arrival = self.stamp()
        self.closed = True

    def stamp(self) -> int:
        """The next arrival number (1, 2, ...): orders refusals, votes and outcomes."""
        self.arrivals += 1
        return self.arrivals

    def _refuse(self, decision: Decision, because: str) -> Verdict:
        for earlier in self.refusals:
            if (
                earlier.decision.approval_id == decision.approval_id
                and earlier.decision.same_answer(decision)
                and (because != UNVERIFIED or earlier.decision.proof == decision.proof)
            ):
                # one human act, one refusal, whatever the reason now (each forgery, one)
                return Verdict.REPEATED
        self.refusals.append(Refusal(decision, because, self.stamp()))
        return Verdict.REFUSED


def _late_copy_of(refusal: Refusal, decision: Decision) -> bool:
    return (
        refusal.because == LATE
        and refusal.decision.approval_id == decision.approval_id
        and refusal.decision.same_answer(decision)
    )
