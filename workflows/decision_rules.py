"""Which decision an approval takes: a plain class, deterministic, tested without Temporal.

The rules, in the order they are applied to each decision offered:

1. a decision for another approval (or before the request exists) is refused: ``unknown approval``;
2. the decision already taken, seen again (socket, catch-up, retried signal), changes nothing;
3. a decision by the requester is refused: ``self-approval``;
4. once the wait is over (timer or cancellation), any decision is refused: ``late``;
5. a different decision after the first is refused: ``conflicting`` (first decision wins);
6. otherwise it is taken.

A refused decision seen again (same approval, same answer) is one refusal, audited
once. A decision refused as late and then found by the expiry to have been made
before the deadline (``made_in_time``) is taken, and its late refusal withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from approvals.identity import SELF_APPROVAL, is_self_decision
from approvals.models import Decision

UNKNOWN_APPROVAL = "unknown approval"
LATE = "late"
CONFLICTING = "conflicting"


class Verdict(StrEnum):
    TAKEN = "taken"
    REPEATED = "repeated"
    REFUSED = "refused"


@dataclass(frozen=True)
class Refusal:
    decision: Decision
    because: str


@dataclass
class DecisionRules:
    """The decision state of one approval."""

    requester: str
    approval_id: str | None = None
    decision: Decision | None = None
    closed: bool = False
    refusals: list[Refusal] = field(default_factory=list)

    def offer(self, decision: Decision, *, made_in_time: bool = False) -> Verdict:
        """Apply the rules to ``decision``; a refusal is appended to ``refusals``.

        ``made_in_time``: the platform says it was made before the wait ended
        (read when the timer fired), so rule 4 does not apply.
        """
        if decision.approval_id != self.approval_id or self.approval_id is None:
            return self._refuse(decision, UNKNOWN_APPROVAL)
        if self.decision is not None and self.decision.same_answer(decision):
            return Verdict.REPEATED
        if is_self_decision(self.requester, decision.decided_by):
            return self._refuse(decision, SELF_APPROVAL)
        if self.closed and not made_in_time:
            return self._refuse(decision, LATE)
        if self.decision is not None:
            return self._refuse(decision, CONFLICTING)
        self.decision = decision
        if made_in_time:
            # A copy that arrived after the wait ended was refused as late; the platform
            # says it was made in time: that refusal is withdrawn.
            self.refusals = [r for r in self.refusals if not _late_copy_of(r, decision)]
        return Verdict.TAKEN

    def close(self) -> None:
        """The wait is over: from now on every new decision is late."""
        self.closed = True

    def _refuse(self, decision: Decision, because: str) -> Verdict:
        for earlier in self.refusals:
            if earlier.decision.approval_id == decision.approval_id and (
                earlier.decision.same_answer(decision)
            ):
                return Verdict.REPEATED  # one human act, one refusal, whatever the reason now
        self.refusals.append(Refusal(decision, because))
        return Verdict.REFUSED


def _late_copy_of(refusal: Refusal, decision: Decision) -> bool:
    return (
        refusal.because == LATE
        and refusal.decision.approval_id == decision.approval_id
        and refusal.decision.same_answer(decision)
    )
