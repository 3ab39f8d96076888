"""The verdicts every route answers, in the workflow validator's words (docs/deciding.md)."""

from __future__ import annotations

from durable_approvals.identity import same_identity
from durable_approvals.models import (
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    Decision,
    DecisionVerdict,
    VerdictOutcome,
)

# The reasons in the workflow's words (workflows/decision_rules.py, which the library does
# not import: tests/test_deciding.py checks that both say the same).
UNKNOWN_APPROVAL = "unknown approval"
LATE = "late"
CONFLICTING = "conflicting"
REPEATED = "repeated"


def refused(
    approval_id: str,
    reason: str,
    *,
    state: ApprovalState | None = None,
    decision: Decision | None = None,
) -> DecisionVerdict:
    """Not taken, for ``reason``."""
    return DecisionVerdict(
        approval_id=approval_id,
        accepted=False,
        outcome=VerdictOutcome.REFUSED,
        reason=reason,
        state=state,
        decision=decision,
    )


def repeated(
    approval_id: str, *, state: ApprovalState | None, decision: Decision | None
) -> DecisionVerdict:
    """This decider's same answer stands already: nothing changes."""
    return DecisionVerdict(
        approval_id=approval_id,
        accepted=True,
        outcome=VerdictOutcome.REPEATED,
        reason=REPEATED,
        state=state,
        decision=decision,
    )


def same_decision(taken: Decision, offered: Decision) -> bool:
    """Whether ``offered`` is the decision ``taken`` again (names compared as identities)."""
    return taken.approved == offered.approved and same_identity(
        taken.decided_by, offered.decided_by
    )


def after_the_decision(taken: Decision, offered: Decision, state: ApprovalState) -> DecisionVerdict:
    """A decision offered once ``taken`` stands: ``repeated`` or refused ``conflicting``."""
    if same_decision(taken, offered):
        return repeated(offered.approval_id, state=state, decision=taken)
    return refused(offered.approval_id, CONFLICTING, state=state, decision=taken)


def after_the_end(result: ApprovalResult | None, offered: Decision) -> DecisionVerdict:
    """A decision offered to a workflow that has ended with ``result`` (``None``: it failed,
    was cancelled or terminated): repeated, ``conflicting``, or ``late``."""
    closed = ApprovalState.CLOSED
    if result is None or result.status not in (ApprovalStatus.GRANTED, ApprovalStatus.DENIED):
        return refused(offered.approval_id, LATE, state=closed)
    taken = Decision(
        approval_id=offered.approval_id,
        approved=result.approved,
        decided_by=result.decided_by or "",
        comment=result.comment,
    )
    approvers = result.approvers or []
    if (
        result.approved
        and offered.approved
        and any(same_identity(name, offered.decided_by) for name in approvers)
    ):
        return repeated(offered.approval_id, state=closed, decision=taken)
    return after_the_decision(taken, offered, closed)


__all__ = [
    "CONFLICTING",
    "LATE",
    "REPEATED",
    "UNKNOWN_APPROVAL",
    "after_the_decision",
    "after_the_end",
    "refused",
    "repeated",
    "same_decision",
]
