"""The decide route, one handler per mode: ``strict_router`` serves the upstream contract's
decide; ``ext_router`` the reference platform's (comments, self-approval rule, args
binding, verified deciders, N-of-M votes and the workflow's ``final``).

Bodies are parsed by hand from the raw bytes, so every malformed body gets the contract's
400 ``{"error": "invalid request body"}``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from durable_approvals.action_hash import ArgsError, action_hash, check_json_args
from durable_approvals.binding import binding_refusal
from durable_approvals.devstack.platform.approvers import APPROVER_HEADER
from durable_approvals.devstack.platform.context import (
    ApiError,
    Context,
    PlatformContext,
    envelope,
    parse_body,
    require_token,
)
from durable_approvals.devstack.platform.limits import read_body
from durable_approvals.devstack.platform.store import (
    Approval,
    NotAnApprover,
    SelfDecisionRefused,
    Status,
    utc_now,
)
from durable_approvals.identity import NOT_IN_GROUP, SELF_APPROVAL, identity_key, same_identity
from durable_approvals.models import ActionHash, JsonArgs, NameText, ReasonText
from durable_approvals.proof import canonical_statement, sign

logger = logging.getLogger(__name__)

ERROR_BAD_DECISION = "decision must be 'approved' or 'denied'"
ERROR_NOT_DECIDABLE = "approval not found or already decided"
ERROR_SELF_DECISION = "the requester cannot decide their own approval"
ERROR_NOT_BOUND = "the decision does not match the approval's args"
ERROR_NOT_AN_APPROVER = "only the approval's approvers may vote on it"
ERROR_UNKNOWN_APPROVER = "unauthorized"
ERROR_WRONG_WORKSPACE = "this approver may not decide in this workspace"
ERROR_NOT_THE_APPROVER = "decided_by is not the signed-in approver"
ERROR_VOTES_MISSING = "the stored votes do not decide this approval"

ROUTE = "/workspaces/{workspace_id}/approvals/{approval_id}/decide"

strict_router = APIRouter(dependencies=[Depends(require_token)])
"""The upstream contract's decide (strict mode)."""
ext_router = APIRouter(dependencies=[Depends(require_token)])
"""The reference platform's decide, with every [ext]."""


class _ContractDecideBody(BaseModel):
    """The decide body of the upstream contract; ``decided_by`` follows the library's rule."""

    model_config = ConfigDict(extra="ignore")

    decision: Any = None  # checked by hand: it has its own error text
    decided_by: NameText | None = None


class _DecideBody(_ContractDecideBody):
    """The decide body with the [ext] ``comment``, which follows the library's rule too."""

    comment: ReasonText | None = None
    # [ext] docs/policies/edits.md: the hash it approves, and the args it approves instead.
    action_hash: ActionHash | None = None
    edited_args: JsonArgs | None = None
    final: bool = False
    """N-of-M: the workflow's outcome, which closes a vote item; a plain decide is a vote."""


def _decision(body: _ContractDecideBody) -> Status:
    """The body's answer.

    Raises:
        ApiError: 400 for anything but ``approved`` or ``denied``.
    """
    if body.decision not in (Status.APPROVED.value, Status.DENIED.value):
        raise ApiError(400, {"error": ERROR_BAD_DECISION})
    return Status(body.decision)


@strict_router.post(ROUTE)
async def decide_contract(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """The first decision wins and is broadcast; later ones get 404. No comment, no
    self-approval rule: the requester may decide, as upstream."""
    body = parse_body(_ContractDecideBody, await read_body(request))
    decision = _decision(body)
    approval = platform.store.decide(
        workspace_id,
        approval_id,
        status=decision,
        decided_by=body.decided_by or "human",
        allow_self_decision=True,
    )
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
    payload = {
        "approval_id": approval.id,
        "decision": decision.value,
        "decided_by": approval.decided_by,
    }
    platform.hub.broadcast(workspace_id, _decided_event(approval, decision, payload))
    return {"status": decision.value, "approval_id": approval.id}


@ext_router.post(ROUTE)
async def decide(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """[ext] The first decision wins and is broadcast; later ones get 404. On a vote item
    (N-of-M) a decision without ``final`` is a vote: stored, broadcast, the item stays
    pending; ``final`` closes it only as its stored votes decide it."""
    body = parse_body(_DecideBody, await read_body(request))
    decision = _decision(body)
    stored = platform.store.get(workspace_id, approval_id)
    vote_item = stored is not None and stored.approvals_required is not None
    if body.final and vote_item and stored is not None:
        return _close_vote_item(platform, stored, decision, body)
    decided_by = _decider(platform, request, workspace_id, body.decided_by)
    bound = _bound(stored, body, decision, vote=vote_item)
    if vote_item and not body.final:
        voted = _vote(platform, workspace_id, approval_id, decision, decided_by, body, bound)
        if voted is not None:
            return voted
    signed = _signed(platform, workspace_id, approval_id, decision, decided_by, bound)
    try:
        approval = platform.store.decide(
            workspace_id,
            approval_id,
            status=decision,
            decided_by=decided_by,
            comment=body.comment,
            allow_self_decision=platform.hooks.self_decision_allowed(workspace_id, approval_id),
            **bound,
            **signed,
        )
    except SelfDecisionRefused:
        logger.warning("refused a self-approval of %s in %s", approval_id, workspace_id)
        raise ApiError(403, {"error": ERROR_SELF_DECISION, "reason": SELF_APPROVAL}) from None
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
    _broadcast_decision(platform, approval, decision)
    return {"status": decision.value, "approval_id": approval.id}


def _close_vote_item(
    platform: PlatformContext, stored: Approval, decision: Status, body: _DecideBody
) -> dict[str, Any]:
    """[ext] The workflow's ``final`` on a vote item: taken only when the stored votes
    decide it (``required`` distinct approvals, or a denial) and its ``decided_by`` cast one
    of them; recorded unsigned, since no person made this decision.

    Raises:
        ApiError: 409 ``votes-missing`` otherwise (nothing stored); 404 when closed.
    """
    if not _votes_decide(stored, decision, body.decided_by or ""):
        logger.warning(
            "refused a final of %s in %s: the stored votes do not decide it",
            stored.id,
            stored.workspace_id,
        )
        raise ApiError(409, {"error": ERROR_VOTES_MISSING, "reason": "votes-missing"})
    bound = _bound(stored, body, decision, vote=False)
    try:
        approval = platform.store.decide(
            stored.workspace_id,
            stored.id,
            status=decision,
            decided_by=body.decided_by or "",
            comment=body.comment,
            allow_self_decision=platform.hooks.self_decision_allowed(
                stored.workspace_id, stored.id
            ),
            **bound,
        )
    except SelfDecisionRefused:
        raise ApiError(403, {"error": ERROR_SELF_DECISION, "reason": SELF_APPROVAL}) from None
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
    _broadcast_decision(platform, approval, decision)
    return {"status": decision.value, "approval_id": approval.id}


def _votes_decide(stored: Approval, decision: Status, decided_by: str) -> bool:
    """Whether ``stored``'s votes reach ``decision``: ``approvals_required`` distinct
    approvers for an approval, one denial for a denial; ``decided_by`` among them."""
    matching = {
        identity_key(vote.get("decided_by"))
        for vote in stored.votes
        if vote.get("decision") == decision.value
    }
    if identity_key(decided_by) not in matching:
        return False
    required = stored.approvals_required or 1
    return decision is Status.DENIED or len(matching) >= required


def _bound(
    stored: Approval | None, body: _DecideBody, decision: Status, *, vote: bool
) -> dict[str, Any]:
    """[ext] What the decision binds to (``action_hash``, ``edited_args``).

    Raises:
        ApiError: 409 when the binding rule refuses it (nothing stored: it stays decidable).
    """
    refused = (
        _binding_refusal(stored, body, decision is Status.APPROVED, vote=vote)
        if stored is not None and stored.status in (Status.PENDING, Status.ESCALATED)
        else None
    )
    if refused is not None and stored is not None:
        logger.warning(
            "refused a decision of %s in %s: %s", stored.id, stored.workspace_id, refused
        )
        raise ApiError(409, {"error": ERROR_NOT_BOUND, "reason": refused})
    return {"action_hash": body.action_hash, "edited_args": body.edited_args}


def _binding_refusal(
    approval: Approval, body: _DecideBody, approved: bool, *, vote: bool = False
) -> str | None:
    """The library's binding rule (durable_approvals/binding.py) against the stored request
    (``vote``: a vote on a vote item, which may carry no edits).

    The request's hash is recomputed here from its workspace, action and args, not
    taken from what the creator sent.
    """
    context = approval.context if isinstance(approval.context, dict) else {}
    args = context.get("args")
    schema = context.get("args_schema")
    try:
        if args is not None:
            check_json_args(args)
        request_hash = action_hash(approval.workspace_id, approval.action, args)
    except ArgsError:
        return None  # not args our library wrote: nothing to bind to
    return binding_refusal(
        workspace_id=approval.workspace_id,
        action=approval.action,
        args=args,
        args_schema=schema if isinstance(schema, dict) else None,
        request_hash=request_hash,
        approved=approved,
        decision_hash=body.action_hash,
        edited_args=body.edited_args,
        vote=vote,
    )


def _decider(
    platform: PlatformContext, request: Request, workspace_id: str, typed: str | None
) -> str:
    """Who decides: with an approvers file, the approver the ``X-Approver-Token``
    authenticates (docs/trust-model.md); else the body's ``decided_by`` (or ``human``).

    Raises:
        ApiError: 401 no or an unknown approver token; 403 an approver of other workspaces,
            or a body ``decided_by`` naming someone else.
    """
    if platform.approvers is None:
        return typed or "human"
    approver = platform.approvers.authenticate(request.headers.get(APPROVER_HEADER))
    if approver is None:
        raise ApiError(401, {"error": ERROR_UNKNOWN_APPROVER, "reason": "unknown approver"})
    if not approver.may_decide_in(workspace_id):
        raise ApiError(403, {"error": ERROR_WRONG_WORKSPACE, "reason": "workspace"})
    if typed is not None and typed.strip() and not same_identity(typed, approver.name):
        raise ApiError(403, {"error": ERROR_NOT_THE_APPROVER, "reason": "decider-mismatch"})
    return approver.name


def _signed(
    platform: PlatformContext,
    workspace_id: str,
    approval_id: str,
    decision: Status,
    decided_by: str,
    bound: dict[str, Any],
    *,
    vote: bool = False,
) -> dict[str, Any]:
    """``decided_at`` and its ``proof`` (durable_approvals/proof.py: a decision's or a
    ``vote``'s statement) when the platform signs; else nothing (the store dates it)."""
    if platform.signing_key is None:
        return {}
    decided_at = utc_now()
    statement = canonical_statement(
        workspace_id=workspace_id,
        approval_id=approval_id,
        approved=decision is Status.APPROVED,
        decided_by=decided_by,
        action_hash=bound.get("action_hash"),
        decided_at=datetime.fromisoformat(decided_at.replace("Z", "+00:00")),
        vote=vote,
    )
    return {"decided_at": decided_at, "proof": sign(platform.signing_key, statement)}


def _vote(
    platform: PlatformContext,
    workspace_id: str,
    approval_id: str,
    decision: Status,
    decided_by: str,
    body: _DecideBody,
    bound: dict[str, Any],
) -> dict[str, Any] | None:
    """Record a vote on a vote item and broadcast ``APPROVAL_VOTED`` once per vote;
    ``None``: not a pending vote item (the plain decide answers). Its ``action_hash``
    (checked by the binding rule already) is stored and broadcast."""
    try:
        voted = platform.store.vote(
            workspace_id,
            approval_id,
            status=decision,
            decided_by=decided_by,
            comment=body.comment,
            action_hash=bound.get("action_hash"),
            **_signed(platform, workspace_id, approval_id, decision, decided_by, bound, vote=True),
        )
    except SelfDecisionRefused:
        logger.warning("refused a self-vote on %s in %s", approval_id, workspace_id)
        raise ApiError(403, {"error": ERROR_SELF_DECISION, "reason": SELF_APPROVAL}) from None
    except NotAnApprover:
        raise ApiError(403, {"error": ERROR_NOT_AN_APPROVER, "reason": NOT_IN_GROUP}) from None
    if voted is None:
        return None
    approval, new = voted
    if new:
        payload = {"approval_id": approval.id, **approval.votes[-1]}
        platform.hub.broadcast(workspace_id, envelope("APPROVAL_VOTED", workspace_id, payload))
    return {
        "status": Status.PENDING.value,
        "approval_id": approval.id,
        "vote": decision.value,
        "votes": len(approval.votes),
        "approvals_required": approval.approvals_required,
    }


def _broadcast_decision(platform: PlatformContext, approval: Approval, decision: Status) -> None:
    """[ext] ``APPROVAL_APPROVED``/``DENIED`` with the reference platform's fields."""
    payload: dict[str, Any] = {
        "approval_id": approval.id,
        "decision": decision.value,
        "decided_by": approval.decided_by,
        "comment": approval.comment,
    }
    if approval.decision_action_hash is not None:
        payload["action_hash"] = approval.decision_action_hash
    if approval.edited_args is not None:
        payload["edited_args"] = approval.edited_args
    if approval.proof is not None:  # what the proof signs the time of
        payload["decided_at"] = approval.decided_at
        payload["proof"] = approval.proof
    platform.hub.broadcast(approval.workspace_id, _decided_event(approval, decision, payload))


def _decided_event(approval: Approval, decision: Status, payload: dict[str, Any]) -> Any:
    event = "APPROVAL_APPROVED" if decision is Status.APPROVED else "APPROVAL_DENIED"
    return envelope(event, approval.workspace_id, payload)


__all__ = [
    "ERROR_BAD_DECISION",
    "ERROR_NOT_DECIDABLE",
    "ERROR_SELF_DECISION",
    "ERROR_VOTES_MISSING",
    "ext_router",
    "strict_router",
]
