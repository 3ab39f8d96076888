"""Platform HTTP activities: create a request, read its decision, expire it, record a
decision that came from elsewhere. Platform errors keep their retryability."""

from __future__ import annotations

import hashlib
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.events import decision_from_item
from activities.messages import (
    CreateApprovalInput,
    CreatedApproval,
    ExpireApprovalInput,
    ExpireOutcome,
    ReadApprovalInput,
    RecordDecisionInput,
)
from activities.workspace import PlatformAccess
from approvals import metrics
from approvals.models import Decision, DecisionSource
from approvals.platform_client import ExpireResult, PlatformError

logger = logging.getLogger(__name__)


def as_application_error(error: PlatformError) -> ApplicationError:
    """Carry the platform's verdict into Temporal's retry decision (and count it, by activity)."""
    if activity.in_activity():
        metrics.platform_call_error(
            activity.metric_meter(), activity.info().activity_type, error.kind
        )
    return ApplicationError(error.message, type=error.kind, non_retryable=not error.retryable)


MARKER_CHARS = 24


def marked_task_id(task_id: str | None, idempotency_key: str) -> str:
    """The ``task_id`` sent to the platform: the agent's own, ``#``, and a marker of the run."""
    marker = hashlib.sha256(idempotency_key.encode()).hexdigest()[:MARKER_CHARS]
    return f"{task_id}#{marker}" if task_id else marker


class PlatformHttpActivities:
    """The platform activities over the worker's ``PlatformAccess``."""

    def __init__(self, access: PlatformAccess) -> None:
        self._access = access

    @activity.defn
    async def create_approval(self, request: CreateApprovalInput) -> CreatedApproval:
        """Create the request once, however often retried (docs/internals.md: two guards)."""
        platform = self._access.client(request.workspace_id)
        task_id = marked_task_id(request.task_id, request.idempotency_key)
        try:
            existing = await platform.find_by_task_id(task_id)
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
