"""Binding a decision to the request's args: the hash it approves (docs/policies/edits.md)."""

from __future__ import annotations

from typing import Any

from durable_approvals.action_hash import action_hash, check_json_args, merge_patch
from durable_approvals.models import Decision


def approved_args(
    args: dict[str, Any] | None, edit: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The args an approval with ``edit`` approves: ``args`` merge-patched (RFC 7386) by ``edit``.

    Raises:
        ValueError: an edit of a request without args, or edits that are not JSON args.
    """
    if edit is None:
        return args
    if args is None:
        raise ValueError("the request has no args to edit")
    if not isinstance(edit, dict):
        raise ValueError("an edit must be a JSON object")
    return check_json_args(merge_patch(args, edit), "edited args")


def bound_decision(
    *,
    workspace_id: str,
    action: str,
    args: dict[str, Any] | None,
    approval_id: str,
    approved: bool,
    decided_by: str,
    comment: str | None = None,
    edit: dict[str, Any] | None = None,
) -> Decision:
    """A decision naming the hash of what it decides: the request's args, or them edited.

    ``edit`` is a merge patch of the request's ``args``; the decision then carries the
    whole edited args and their hash. Only an approval may edit.

    Raises:
        ValueError: bad edits (the workflow checks them again against its edit rule).
    """
    if edit is not None and not approved:
        raise ValueError("only an approval may edit the args")
    final = approved_args(args, edit)
    return Decision(
        approval_id=approval_id,
        approved=approved,
        decided_by=decided_by,
        comment=comment,
        action_hash=action_hash(workspace_id, action, final),
        edited_args=final if edit is not None else None,
    )


__all__ = ["approved_args", "bound_decision"]
