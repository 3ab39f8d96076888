"""The platform's decide route, where the platform answers for the workflow (reference
platform): its reply or refusal becomes the verdict, in the workflow's words."""

from __future__ import annotations

from typing import Any

from durable_approvals.deciding.bind import bound_decision
from durable_approvals.deciding.errors import UnknownApprovalError
from durable_approvals.deciding.verdicts import LATE, after_the_decision, refused, repeated
from durable_approvals.identity import identity_key, same_identity
from durable_approvals.models import (
    ApprovalState,
    Ballot,
    Decision,
    DecisionVerdict,
    VerdictOutcome,
)
from durable_approvals.platform_client import PlatformClient, PlatformError

APPROVED = "approved"
DENIED = "denied"
PENDING = "pending"
EXPIRED = "expired"


def platform_decision(ballot: Ballot, item: dict[str, Any], workspace_id: str) -> Decision:
    """``ballot`` as the decision the platform gets: bound to the item's args (its [ext]
    ``args``), edited by ``ballot.edit``, unless the caller named the hash already."""
    unbound = not ballot.bind_to_request or item.get("args") is None
    if ballot.action_hash is not None or (unbound and ballot.edit is None):
        return Decision(
            approval_id=ballot.approval_id,
            approved=ballot.approved,
            decided_by=ballot.decided_by,
            comment=ballot.comment,
            action_hash=ballot.action_hash,
            edited_args=ballot.edited_args,
        )
    return bound_decision(
        workspace_id=workspace_id,
        action=str(item.get("action", "")),
        args=item.get("args"),
        approval_id=ballot.approval_id,
        approved=ballot.approved,
        decided_by=ballot.decided_by,
        comment=ballot.comment,
        edit=ballot.edit,
    )


def _vote_verdict(
    decision: Decision, item: dict[str, Any], reply: dict[str, Any]
) -> DecisionVerdict:
    """A vote the platform stored, as the workflow's tally counts it (docs/policies/n-of-m.md):
    the same again is repeated, a denial ends it, the n-th distinct approval too."""
    votes = [vote for vote in item.get("votes") or [] if isinstance(vote, dict)]
    mine = identity_key(decision.decided_by)
    required = reply.get("approvals_required") or item.get("approvals_required") or 1
    if _voted_so(item, decision):
        return repeated(decision.approval_id, state=ApprovalState.PENDING, decision=None)
    approvers = {identity_key(v.get("decided_by")) for v in votes if v.get("decision") == APPROVED}
    if decision.approved:
        approvers.add(mine)
    taken = not decision.approved or len(approvers) >= required
    return DecisionVerdict(
        approval_id=decision.approval_id,
        accepted=True,
        outcome=VerdictOutcome.TAKEN if taken else VerdictOutcome.COUNTED,
        state=ApprovalState.DECIDED if taken else ApprovalState.PENDING,
        votes=len(approvers),
        approvals_required=int(required),
    )


async def _already_decided(
    platform: PlatformClient, decision: Decision, error: PlatformError
) -> DecisionVerdict:
    """The platform's 404 on decide: the item, read again, says repeated, conflicting or late."""
    item = await platform.get_approval(decision.approval_id)
    if item is None:
        raise UnknownApprovalError(f"unknown approval id {decision.approval_id}") from error
    status = item.get("status")
    if status == EXPIRED:
        return refused(decision.approval_id, LATE, state=ApprovalState.CLOSED)
    if status not in (APPROVED, DENIED):
        raise error  # open, yet refused: nothing the rules name
    taken = Decision(
        approval_id=decision.approval_id,
        approved=status == APPROVED,
        decided_by=str(item.get("decided_by") or ""),
    )
    if _voted_so(item, decision):  # N-of-M: a vote that counted in the outcome
        return repeated(decision.approval_id, state=ApprovalState.DECIDED, decision=taken)
    return after_the_decision(taken, decision, ApprovalState.DECIDED)


def _voted_so(item: dict[str, Any], decision: Decision) -> bool:
    answer = APPROVED if decision.approved else DENIED
    return any(
        isinstance(vote, dict)
        and vote.get("decision") == answer
        and same_identity(vote.get("decided_by"), decision.decided_by)
        for vote in item.get("votes") or []
    )


async def decide_on_platform(
    platform: PlatformClient, ballot: Ballot, item: dict[str, Any], workspace_id: str
) -> DecisionVerdict:
    """Send ``ballot`` to the platform's decide route (its approver token along) and answer
    the verdict: taken or counted, repeated; refused with the platform's reason word
    (403 ``self-approval``, ``not in approver group``, ``decider-mismatch``; 409 the
    binding's); 404 read again as repeated, ``conflicting`` or ``late``.

    Raises:
        UnknownApprovalError: the platform has no such approval.
        PlatformError: any other failure (unreachable, 401, a bad request).
    """
    decision = platform_decision(ballot, item, workspace_id)
    token = ballot.approver_token.get_secret_value() if ballot.approver_token else None
    try:
        reply = await platform.decide(
            decision.approval_id,
            approved=decision.approved,
            decided_by=decision.decided_by,
            comment=decision.comment,
            action_hash=decision.action_hash,
            edited_args=decision.edited_args,
            approver_token=token,
        )
    except PlatformError as error:
        if error.status_code in (403, 409) and error.reason:
            return refused(decision.approval_id, error.reason, state=ApprovalState.PENDING)
        if error.status_code == 404:
            return await _already_decided(platform, decision, error)
        raise
    if reply.get("status") == PENDING:
        return _vote_verdict(decision, item, reply)
    return DecisionVerdict(
        approval_id=decision.approval_id,
        accepted=True,
        outcome=VerdictOutcome.TAKEN,
        state=ApprovalState.DECIDED,
        decision=decision,
    )


__all__ = ["decide_on_platform", "platform_decision"]
