"""A workspace's approvals: create, list (``router``); get one, expire, remind, escalate
(``ext_router``). The decide route has a module of its own (decide_routes.py).

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

from durable_approvals.devstack.platform.context import (
    ApiError,
    Context,
    envelope,
    parse_body,
    require_token,
)
from durable_approvals.devstack.platform.decide_routes import ERROR_NOT_DECIDABLE
from durable_approvals.devstack.platform.limits import check_item_sizes, read_body
from durable_approvals.devstack.platform.store import (
    Approval,
    ExpireOutcome,
    NoticeOutcome,
    Status,
)
from durable_approvals.models import (
    MAX_APPROVALS_REQUIRED,
    Identifier,
    NameText,
)

logger = logging.getLogger(__name__)

ERROR_NOT_FOUND = "approval not found"

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
    raw = await read_body(request)
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
    check_item_sizes(body.action, body.reason, body.context)
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
    await platform.hooks.before_read(workspace_id)
    return [platform.item(approval) for approval in platform.store.list_recent(workspace_id)]


@ext_router.get("/{approval_id}")
async def get_approval(workspace_id: str, approval_id: str, platform: Context) -> dict[str, Any]:
    """[ext] One item, for pollers whose approval fell out of the newest 50."""
    await platform.hooks.before_read(workspace_id)
    approval = platform.store.get(workspace_id, approval_id)
    if approval is None:
        raise ApiError(404, {"error": ERROR_NOT_FOUND})
    return approval.item()


@ext_router.post("/{approval_id}/expire")
async def expire(
    workspace_id: str, approval_id: str, request: Request, platform: Context
) -> dict[str, Any]:
    """[ext] Close a pending approval (the workflow's timeout or cancellation)."""
    raw = await read_body(request)
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
    body = parse_body(_RemindBody, await read_body(request))
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
    body = parse_body(_EscalateBody, await read_body(request))
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
    "ERROR_NOT_DECIDABLE",
    "ERROR_NOT_FOUND",
    "ext_router",
    "router",
]
