"""The four shapes an approval takes on the wire: the contract's list item and pending
item (strict mode), and the same with the [ext] fields (``docs/platform-modes.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durable_approvals.devstack.platform.store.approval import Approval


def args_fields(approval: Approval) -> dict[str, Any]:
    """[ext] The request's args, schema and hash (from ``context``), and the decision's."""
    context = approval.context if isinstance(approval.context, dict) else {}
    if "args" not in context:
        return {}
    return {
        "args": context.get("args"),
        "args_schema": context.get("args_schema"),
        "action_hash": context.get("action_hash"),
        "decision_action_hash": approval.decision_action_hash,
        "edited_args": approval.edited_args,
    }


def contract_item(approval: Approval) -> dict[str, Any]:
    """The upstream contract's list item: no [ext] field (strict mode)."""
    return {
        "id": approval.id,
        "task_id": approval.task_id,
        "action": approval.action,
        "reason": approval.reason,
        "status": approval.status.value,
        "decided_by": approval.decided_by,
        "decided_at": approval.decided_at,
        "created_at": approval.created_at,
    }


def item(approval: Approval) -> dict[str, Any]:
    """The shape of the workspace list and single-item routes, with the [ext] fields
    (``approvals_required`` and ``votes`` on a vote item only)."""
    shown = {
        **contract_item(approval),
        "comment": approval.comment,
        "requester": approval.requester,
        "expires_at": approval.expires_at,
        **args_fields(approval),
        **_escalation_fields(approval),
        **({"proof": approval.proof} if approval.proof is not None else {}),
    }
    return {**shown, **_vote_fields(approval)}


def contract_pending_item(approval: Approval) -> dict[str, Any]:
    """The upstream contract's ``/approvals/pending`` item: no [ext] field (strict mode).

    There is no workspace registry here, so the workspace's name is its id.
    """
    return {
        "id": approval.id,
        "workspace_id": approval.workspace_id,
        "workspace_name": approval.workspace_id,
        "action": approval.action,
        "reason": approval.reason,
        "status": approval.status.value,
        "created_at": approval.created_at,
    }


def pending_item(approval: Approval) -> dict[str, Any]:
    """The shape of the cross-workspace ``/approvals/pending`` route, with the [ext] fields."""
    shown = {
        **contract_pending_item(approval),
        "requester": approval.requester,
        "expires_at": approval.expires_at,
        **args_fields(approval),
        **_escalation_fields(approval),
    }
    return {**shown, **_vote_fields(approval)}


def _escalation_fields(approval: Approval) -> dict[str, Any]:
    return {
        "escalated_to": approval.escalated_to,
        "escalated_at": approval.escalated_at,
        "escalation_level": approval.escalation_level or 0,
        "reminders": approval.reminders or 0,
        "reminded_at": approval.reminded_at,
    }


def _vote_fields(approval: Approval) -> dict[str, Any]:
    if approval.approvals_required is None:
        return {}
    return {
        "approvals_required": approval.approvals_required,
        "votes": [dict(vote) for vote in approval.votes],
        "approvers": list(approval.approvers) if approval.approvers is not None else None,
    }


__all__ = ["args_fields", "contract_item", "contract_pending_item", "item", "pending_item"]
