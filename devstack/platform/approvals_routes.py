"""A workspace's approvals: create, list, decide (``router``); get one, expire, remind,
escalate (``ext_router``).

Bodies are parsed by hand from the raw bytes, so every malformed body gets
the contract's 400 ``{"error": "invalid request body"}``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from durable_approvals.devstack.platform.store import (
    Approval,
    ExpireOutcome,
    NotAnApprover,
    NoticeOutcome,
    SelfDecisionRefused,
    Status,
    utc_now,
)
from durable_approvals.identity import NOT_IN_GROUP, SELF_APPROVAL, same_identity
from durable_approvals.models import (
    MAX_APPROVALS_REQUIRED,
    ActionHash,
    Identifier,
    JsonArgs,
    NameText,
    ReasonText,
)
from durable_approvals.proof import canonical_statement, sign

logger = logging.getLogger(__name__)

ERROR_BAD_DECISION = "decision must be 'approved' or 'denied'"
ERROR_NOT_FOUND = "approval not found"
ERROR_NOT_DECIDABLE = "approval not found or already decided"
ERROR_SELF_DECISION = "the requester cannot decide their own approval"
ERROR_NOT_BOUND = "the decision does not match the approval's args"
ERROR_NOT_AN_APPROVER = "only the approval's approvers may vote on it"
ERROR_UNKNOWN_APPROVER = "unauthorized"
ERROR_WRONG_WORKSPACE = "this approver may not decide in this workspace"
ERROR_NOT_THE_APPROVER = "decided_by is not the signed-in approver"

PREFIX = "/workspaces/{workspace_id}/approvals"

router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_token)])
"""The routes of the upstream contract, served in both modes."""
ext_router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_token)])
"""The [ext] routes, reference mode only."""


class _ContractCreateBody(BaseModel):
    """The create body of the upstream contract (strict mode); other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(min_length=1)
    reason: str | None = None
    task_id: str | None = None
    context: dict[str, Any] | None = None

    @field_validator("action")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("action is blank")
        return value


class _CreateBody(_ContractCreateBody):
    """The create body with the [ext] fields for the inbox."""

    requester: NameText | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=10 * 366 * 86400)
    approvals_required: int | None = Field(default=None, ge=1, le=MAX_APPROVALS_REQUIRED)
    """N-of-M: the decide route records votes on this item (docs/policies/n-of-m.md)."""
    approvers: list[NameText] | None = Field(default=None, max_length=1_000)
    """N-of-M: the only deciders a vote item takes votes from (an approver group)."""


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


class _ExpireBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str | None = None


class _RemindBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reminder: int = Field(ge=1, le=1_000_000)
    escalated_to: Identifier | None = None


class _EscalateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    escalated_to: Identifier
    level: int = Field(ge=1, le=100)
    expires_at: datetime | None = None


@router.post("", status_code=201)
async def create_approval(workspace_id: str, request: Request, platform: Context) -> Response:
    """Store a request and send ``APPROVAL_REQUESTED``; a repeated [ext] key replies again."""
    reply = platform.hooks.create_reply(workspace_id)
    if reply is not None:
        return reply
    raw = await request.body()
    body: _ContractCreateBody
    approvals_required: int | None = None
    approvers: list[str] | None = None
    if platform.strict:  # no Idempotency-Key, no requester, no deadline: every POST is new
        body = parse_body(_ContractCreateBody, raw)
        key, requester, timeout_seconds = None, None, None
    else:
        ext_body = parse_body(_CreateBody, raw)
        body, requester, timeout_seconds = ext_body, ext_body.requester, ext_body.timeout_seconds
        key = request.headers.get("idempotency-key") or None
        approvals_required = ext_body.approvals_required
        approvers = ext_body.approvers if approvals_required is not None else None
    approval, created = platform.store.create(
        workspace_id,
        action=body.action,
        reason=body.reason,
        task_id=body.task_id,
        context=body.context,
        idempotency_key=key,
        requester=requester,
        timeout_seconds=timeout_seconds,
        approvals_required=approvals_required,
        approvers=approvers,
    )
    if created:
        payload = {
            "approval_id": approval.id,
            "action": approval.action,
            "reason": approval.reason,
            "task_id": approval.task_id,
        }
        platform.hub.broadcast(workspace_id, envelope("APPROVAL_REQUESTED", workspace_id, payload))
    await platform.hooks.after_create(workspace_id, approval.id)
    # A repeated key gets the first reply again: that reply said "pending".
    return JSONResponse({"approval_id": approval.id, "status": "pending"}, status_code=201)


@router.get("")
async def list_approvals(workspace_id: str, platform: Context) -> list[dict[str, Any]]:
    """The workspace's newest approvals, newest first."""
    return [platform.item(approval) for approval in platform.store.list_recent(workspace_id)]


@router.post("/{approval_id}/decide")
async def decide(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """The first decision wins and is broadcast; later ones get 404. [ext] On a vote item
    (N-of-M) a decision without ``final`` is a vote: stored, broadcast, the item stays pending."""
    raw = await request.body()
    body: _ContractDecideBody
    ext_body: _DecideBody | None = None
    final = True
    if platform.strict:  # no comment, and no self-approval rule: the requester may decide
        body = parse_body(_ContractDecideBody, raw)
        comment, allow_self_decision = None, True
    else:
        ext_body = parse_body(_DecideBody, raw)
        body, comment, final = ext_body, ext_body.comment, ext_body.final
        allow_self_decision = platform.hooks.self_decision_allowed(workspace_id, approval_id)
    if body.decision not in (Status.APPROVED.value, Status.DENIED.value):
        raise ApiError(400, {"error": ERROR_BAD_DECISION})
    decision = Status(body.decision)
    if _closes_with_a_counted_vote(platform, request, workspace_id, approval_id, body, final):
        decided_by = body.decided_by or ""  # the workflow's outcome: its last counted vote
    else:
        decided_by = _decider(platform, request, workspace_id, body.decided_by)
    bound: dict[str, Any] = {}
    if ext_body is not None:
        stored = platform.store.get(workspace_id, approval_id)
        refused = (
            _binding_refusal(
                stored,
                ext_body,
                decision is Status.APPROVED,
                vote=not final and stored.approvals_required is not None,
            )
            if stored is not None and stored.status in (Status.PENDING, Status.ESCALATED)
            else None
        )
        if refused is not None:  # [ext] refused before it is recorded: it stays decidable
            logger.warning("refused a decision of %s in %s: %s", approval_id, workspace_id, refused)
            raise ApiError(409, {"error": ERROR_NOT_BOUND, "reason": refused})
        bound = {"action_hash": ext_body.action_hash, "edited_args": ext_body.edited_args}
    if not final:
        voted = _vote(
            platform,
            workspace_id,
            approval_id,
            decision,
            decided_by,
            comment,
            bound.get("action_hash"),
        )
        if voted is not None:
            return voted
    signed = _signed(
        platform, workspace_id, approval_id, decision, decided_by, bound.get("action_hash")
    )
    try:
        approval = platform.store.decide(
            workspace_id,
            approval_id,
            status=decision,
            decided_by=decided_by,
            comment=comment,
            allow_self_decision=allow_self_decision,
            **bound,
            **signed,
        )
    except SelfDecisionRefused:
        logger.warning("refused a self-approval of %s in %s", approval_id, workspace_id)
        raise ApiError(403, {"error": ERROR_SELF_DECISION, "reason": SELF_APPROVAL}) from None
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
    event = "APPROVAL_APPROVED" if decision is Status.APPROVED else "APPROVAL_DENIED"
    payload: dict[str, Any] = {
        "approval_id": approval.id,
        "decision": decision.value,
        "decided_by": approval.decided_by,
    }
    if not platform.strict:
        payload["comment"] = approval.comment
        if approval.decision_action_hash is not None:
            payload["action_hash"] = approval.decision_action_hash
        if approval.edited_args is not None:
            payload["edited_args"] = approval.edited_args
        if approval.proof is not None:  # [ext] what the proof signs the time of
            payload["decided_at"] = approval.decided_at
            payload["proof"] = approval.proof
    platform.hub.broadcast(workspace_id, envelope(event, workspace_id, payload))
    return {"status": decision.value, "approval_id": approval.id}


def _decider(
    platform: PlatformContext, request: Request, workspace_id: str, typed: str | None
) -> str:
    """Who decides: [ext] with an approvers file, the approver the ``X-Approver-Token``
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


def _closes_with_a_counted_vote(
    platform: PlatformContext,
    request: Request,
    workspace_id: str,
    approval_id: str,
    body: _ContractDecideBody,
    final: bool,
) -> bool:
    """[ext] With an approvers file, the worker's ``final`` decide (the N-of-M outcome) has
    no approver token; it may close a vote item only as a vote an approver already cast
    there (same name and answer), so it claims nothing the platform did not authenticate."""
    if platform.approvers is None or not final or request.headers.get(APPROVER_HEADER):
        return False
    stored = platform.store.get(workspace_id, approval_id)
    if stored is None or stored.approvals_required is None or not body.decided_by:
        return False
    return any(
        vote.get("decision") == body.decision and vote.get("decided_by") == body.decided_by
        for vote in stored.votes
    )


def _signed(
    platform: PlatformContext,
    workspace_id: str,
    approval_id: str,
    decision: Status,
    decided_by: str,
    action_hash: str | None,
) -> dict[str, Any]:
    """[ext] ``decided_at`` and its ``proof`` (durable_approvals/proof.py) when the platform signs;
    else nothing (the store dates the decision itself)."""
    if platform.signing_key is None:
        return {}
    decided_at = utc_now()
    statement = canonical_statement(
        workspace_id=workspace_id,
        approval_id=approval_id,
        approved=decision is Status.APPROVED,
        decided_by=decided_by,
        action_hash=action_hash,
        decided_at=datetime.fromisoformat(decided_at.replace("Z", "+00:00")),
    )
    return {"decided_at": decided_at, "proof": sign(platform.signing_key, statement)}


def _vote(
    platform: PlatformContext,
    workspace_id: str,
    approval_id: str,
    decision: Status,
    decided_by: str,
    comment: str | None,
    action_hash: str | None = None,
) -> dict[str, Any] | None:
    """[ext] Record a vote on a vote item and broadcast ``APPROVAL_VOTED`` once per vote;
    ``None``: not a pending vote item (the plain decide answers). ``action_hash``: the
    hash the vote names (checked by the binding rule already), stored and broadcast."""
    try:
        voted = platform.store.vote(
            workspace_id,
            approval_id,
            status=decision,
            decided_by=decided_by,
            comment=comment,
            action_hash=action_hash,
            **_signed(platform, workspace_id, approval_id, decision, decided_by, action_hash),
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
        vote = approval.votes[-1]
        payload = {"approval_id": approval.id, **vote}
        platform.hub.broadcast(workspace_id, envelope("APPROVAL_VOTED", workspace_id, payload))
    return {
        "status": Status.PENDING.value,
        "approval_id": approval.id,
        "vote": decision.value,
        "votes": len(approval.votes),
        "approvals_required": approval.approvals_required,
    }


@ext_router.get("/{approval_id}")
async def get_approval(workspace_id: str, approval_id: str, platform: Context) -> dict[str, Any]:
    """[ext] One item, for pollers whose approval fell out of the newest 50."""
    approval = platform.store.get(workspace_id, approval_id)
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_FOUND})
    return approval.item()


@ext_router.post("/{approval_id}/expire")
async def expire(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """[ext] Close a pending approval (the workflow's timeout or cancellation)."""
    raw = await request.body()
    reason = parse_body(_ExpireBody, raw).reason if raw.strip() else None
    outcome, approval = platform.store.expire(workspace_id, approval_id, reason=reason)
    if outcome is ExpireOutcome.NOT_FOUND or approval is None:
        raise ApiError(404, {"error": ERROR_NOT_FOUND})
    if outcome is ExpireOutcome.DECIDED:
        raise ApiError(409, {"error": "approval already decided", "status": approval.status.value})
    if outcome is ExpireOutcome.EXPIRED:
        platform.hub.broadcast(
            workspace_id,
            envelope("APPROVAL_EXPIRED", workspace_id, {"approval_id": approval.id}),
        )
    return {"status": Status.EXPIRED.value, "approval_id": approval.id}


def _notice_reply(outcome: NoticeOutcome, approval: Approval | None) -> dict[str, Any]:
    if outcome is NoticeOutcome.NOT_FOUND or approval is None:
        raise ApiError(404, {"error": ERROR_NOT_FOUND})
    if outcome is NoticeOutcome.CLOSED:
        raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
    return {
        "approval_id": approval.id,
        "status": approval.status.value,
        "escalated_to": approval.escalated_to,
        "reminders": approval.reminders or 0,
    }


@ext_router.post("/{approval_id}/remind")
async def remind(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """[ext] Reminder number ``reminder`` of an open approval: ``APPROVAL_REMINDED`` once."""
    body = parse_body(_RemindBody, await request.body())
    outcome, approval = platform.store.remind(workspace_id, approval_id, reminder=body.reminder)
    if outcome is NoticeOutcome.SHOWN and approval is not None:
        payload = {
            "approval_id": approval.id,
            "action": approval.action,
            "reminder": body.reminder,
            "escalated_to": approval.escalated_to,
        }
        platform.hub.broadcast(workspace_id, envelope("APPROVAL_REMINDED", workspace_id, payload))
    return _notice_reply(outcome, approval)


@ext_router.post("/{approval_id}/escalate")
async def escalate(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """[ext] Escalate an open approval to ``escalated_to`` (a group, or the parent
    workspace): status ``escalated``, still decidable; ``APPROVAL_ESCALATED`` once per
    ``level``, to this workspace and to ``escalated_to``'s sockets."""
    body = parse_body(_EscalateBody, await request.body())
    outcome, approval = platform.store.escalate(
        workspace_id,
        approval_id,
        escalated_to=body.escalated_to,
        level=body.level,
        expires_at=body.expires_at,
    )
    if outcome is NoticeOutcome.SHOWN and approval is not None:
        payload = {
            "approval_id": approval.id,
            "action": approval.action,
            "reason": approval.reason,
            "escalated_to": body.escalated_to,
            "level": body.level,
            "expires_at": approval.expires_at,
        }
        event = envelope("APPROVAL_ESCALATED", workspace_id, payload)
        platform.hub.broadcast(workspace_id, event)
        if body.escalated_to != workspace_id:  # the contract sends it to the parent workspace
            platform.hub.broadcast(body.escalated_to, event)
    return _notice_reply(outcome, approval)


__all__ = [
    "ERROR_BAD_DECISION",
    "ERROR_NOT_DECIDABLE",
    "ERROR_NOT_FOUND",
    "ERROR_SELF_DECISION",
    "ext_router",
    "router",
]
