"""Platform HTTP activities: create a request, read its decision, expire it, record a
decision that came from elsewhere. Platform errors keep their retryability."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from durable_approvals import metrics
from durable_approvals.activities.events import decision_from_item
from durable_approvals.activities.messages import (
    CreateApprovalInput,
    CreatedApproval,
    EscalateApprovalInput,
    ExpireApprovalInput,
    ExpireOutcome,
    ReadApprovalInput,
    RecordDecisionInput,
    RemindApprovalInput,
)
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.models import Decision, DecisionSource, is_identifier
from durable_approvals.platform_client import ExpireResult, PlatformError

logger = logging.getLogger(__name__)


def as_application_error(error: PlatformError) -> ApplicationError:
    """Carry the platform's verdict into Temporal's retry decision (and count it, by activity)."""
    if activity.in_activity():
        metrics.platform_call_error(
            activity.metric_meter(), activity.info().activity_type, error.kind
        )
    return ApplicationError(error.message, type=error.kind, non_retryable=not error.retryable)


MARKER_CHARS = 24


def marked_task_id(task_id: str | None, idempotency_key: str, workflow_id: str = "") -> str:
    """The ``task_id`` sent to the platform: the agent's own, ``#``, a marker of the run and,
    when it is an ``Identifier``, ``#`` and the workflow's id (the listener learns the
    approval's owner from the ``APPROVAL_REQUESTED`` event: ``events.requested_owner``)."""
    marker = hashlib.sha256(idempotency_key.encode()).hexdigest()[:MARKER_CHARS]
    marked = f"{task_id}#{marker}" if task_id else marker
    return f"{marked}#{workflow_id}" if is_identifier(workflow_id) else marked


def args_context(request: CreateApprovalInput) -> dict[str, Any] | None:
    """The contract's ``context`` object: the request's args, schema and hash, if it has args."""
    if request.args is None:
        return None
    context: dict[str, Any] = {"args": request.args, "action_hash": request.action_hash}
    if request.args_schema is not None:
        context["args_schema"] = request.args_schema
    return context


class PlatformHttpActivities:
    """The platform activities over the worker's ``PlatformAccess``."""

    def __init__(self, access: PlatformAccess) -> None:
        self._access = access

    @activity.defn
    async def create_approval(self, request: CreateApprovalInput) -> CreatedApproval:
        """Create the request once, however often retried (docs/internals.md: two guards)."""
        platform = self._access.client(request.workspace_id)
        info = activity.info() if activity.in_activity() else None
        workflow_id = (info.workflow_id or "") if info is not None else ""
        task_id = marked_task_id(request.task_id, request.idempotency_key, workflow_id)
        try:
            if request.may_exist or info is None or info.attempt > 1:
                # A run whose first create was made before the task id named its workflow:
                # its marker alone (docs/internals.md, "Create once").
                legacy = marked_task_id(request.task_id, request.idempotency_key)
                existing = await platform.find_by_task_id(task_id, legacy)
                if existing is not None:
                    logger.info("approval already requested: id=%s", existing)
                    return CreatedApproval(approval_id=existing)
            approval_id = await platform.create_approval(
                request.action,
                request.reason,
                idempotency_key=request.idempotency_key,
                task_id=task_id,
                requester=request.requester or None,
                timeout_seconds=request.timeout_seconds,
                context=args_context(request),
                approvals_required=request.approvals_required,
                approvers=request.approvers,
            )
        except PlatformError as error:
            raise as_application_error(error) from error
        logger.info("approval requested: id=%s", approval_id)
        return CreatedApproval(approval_id=approval_id)

    @activity.defn
    async def read_decision(self, request: ReadApprovalInput) -> Decision | None:
        """The decision the platform holds, or ``None`` while open or not found."""
        platform = self._access.client(request.workspace_id)
        try:
            item = await platform.get_approval(request.approval_id)
        except PlatformError as error:
            raise as_application_error(error) from error
        return decision_from_item(item, request.approval_id, DecisionSource.READ)

    @activity.defn
    async def expire_approval(self, request: ExpireApprovalInput) -> ExpireOutcome:
        """Close a timed-out or cancelled request; return the decision it already had, if any."""
        platform = self._access.client(request.workspace_id)
        try:
            result = await platform.expire(request.approval_id, request.reason)
            if result is ExpireResult.EXPIRED:
                return ExpireOutcome(expired=True)
            # Decided (409) or no route: the item says whether a decision came in time.
            item = await platform.get_approval(request.approval_id)
        except PlatformError as error:
            raise as_application_error(error) from error
        decision = decision_from_item(item, request.approval_id, DecisionSource.EXPIRY)
        return ExpireOutcome(expired=False, decision=decision)

    @activity.defn
    async def record_decision(self, request: RecordDecisionInput) -> bool:
        """Write a signalled decision to the platform, so its inbox shows it decided.

        Returns:
            Whether the platform holds this decision (False: it had another, or expired it).
        """
        platform = self._access.client(request.workspace_id)
        decision = request.decision
        try:
            await platform.decide(
                decision.approval_id,
                approved=decision.approved,
                decided_by=decision.decided_by,
                comment=decision.comment,
                action_hash=decision.action_hash,
                edited_args=decision.edited_args,
                final=request.final,
            )
        except PlatformError as error:
            if error.status_code != 404:
                raise as_application_error(error) from error
            try:  # decided already: by an earlier attempt of this write, or someone else
                item = await platform.get_approval(decision.approval_id)
            except PlatformError as read_error:
                raise as_application_error(read_error) from read_error
            held = decision_from_item(item, decision.approval_id, DecisionSource.CLIENT)
            return held is not None and held.same_answer(decision)
        return True

    @activity.defn
    async def remind_approval(self, request: RemindApprovalInput) -> bool:
        """Show a reminder on the platform; ``False`` where it cannot (no route, closed)."""
        platform = self._access.client(request.workspace_id)
        try:
            return await platform.remind(
                request.approval_id, reminder=request.reminder, escalated_to=request.escalated_to
            )
        except PlatformError as error:
            raise as_application_error(error) from error

    @activity.defn
    async def escalate_approval(self, request: EscalateApprovalInput) -> bool:
        """Show an escalation on the platform; ``False`` where it cannot (no route, closed)."""
        platform = self._access.client(request.workspace_id)
        expires_at = request.expires_at.isoformat() if request.expires_at is not None else None
        try:
            return await platform.escalate(
                request.approval_id,
                escalated_to=request.escalated_to,
                level=request.level,
                expires_at=expires_at,
            )
        except PlatformError as error:
            raise as_application_error(error) from error
