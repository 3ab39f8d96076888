"""Platform HTTP activities: create the request, read its decision once, expire it, and
record on it a decision that came from elsewhere."""

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
    """The ``task_id`` sent to the platform: the agent's own, then ``#`` and a marker
    derived from the workflow run, so a retried create can find what it made."""
    marker = hashlib.sha256(idempotency_key.encode()).hexdigest()[:MARKER_CHARS]
    return f"{task_id}#{marker}" if task_id else marker


class PlatformHttpActivities:
    def __init__(self, access: PlatformAccess) -> None:
        self._access = access

    @activity.defn
    async def create_approval(self, request: CreateApprovalInput) -> CreatedApproval:
        """POST the request once, however often it is retried or re-run after a crash.

        Two guards, for the two kinds of platform: the ``Idempotency-Key`` [ext]
        makes the reference platform hand back the first request; on the upstream
        contract, which has no such header, the request carries a marker in its
        ``task_id`` and the newest 50 are searched for it before every POST
        (docs/platform-modes.md says what that leaves open).
        """
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
            )
        except PlatformError as error:
            raise as_application_error(error) from error
        logger.info("approval requested: id=%s", approval_id)
        return CreatedApproval(approval_id=approval_id)

    @activity.defn
    async def read_decision(self, request: ReadApprovalInput) -> Decision | None:
        """The decision the platform holds for the approval, or ``None`` while it is open
        (or cannot be read: "not found" is never a decision)."""
        platform = self._access.client(request.workspace_id)
        try:
            item = await platform.get_approval(request.approval_id)
        except PlatformError as error:
            raise as_application_error(error) from error
        return decision_from_item(item, request.approval_id, DecisionSource.READ)

    @activity.defn
    async def expire_approval(self, request: ExpireApprovalInput) -> ExpireOutcome:
        """Close a timed-out or cancelled request so a late click cannot approve it.

        If the platform already recorded a decision (a click that raced the
        timer), that decision is returned: the platform and the workflow must
        not disagree about what the human did.
        """
        platform = self._access.client(request.workspace_id)
        try:
            result = await platform.expire(request.approval_id, request.reason)
            if result is ExpireResult.EXPIRED:
                return ExpireOutcome(expired=True)
            # Already decided (409), or a platform without the route: its state says
            # whether a decision was made before the deadline.
            item = await platform.get_approval(request.approval_id)
        except PlatformError as error:
            raise as_application_error(error) from error
        decision = decision_from_item(item, request.approval_id, DecisionSource.EXPIRY)
        return ExpireOutcome(expired=False, decision=decision)

    @activity.defn
    async def record_decision(self, request: RecordDecisionInput) -> bool:
        """Write a decision taken from a ``decide`` signal to the platform, so its inbox
        does not show as pending a request the agent already has an answer for.

        Returns whether the platform holds this decision: False when it had
        another one first, or expired it; the workflow's first decision stands
        either way, and the audit record says whether the platform has it.
        """
        platform = self._access.client(request.workspace_id)
        decision = request.decision
        try:
            await platform.decide(
                decision.approval_id,
                approved=decision.approved,
                decided_by=decision.decided_by,
                comment=decision.comment,
            )
        except PlatformError as error:
            if error.status_code != 404:
                raise as_application_error(error) from error
            # Decided already: by an earlier attempt of this very write (its reply
            # lost, or its workflow task redone), or by someone else first.
            try:
                item = await platform.get_approval(decision.approval_id)
            except PlatformError as read_error:
                raise as_application_error(read_error) from read_error
            held = decision_from_item(item, decision.approval_id, DecisionSource.CLIENT)
            return held is not None and held.same_answer(decision)
        return True
