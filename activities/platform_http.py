"""Platform HTTP activities: create the request, poll for its decision, expire it, and
record on it a decision that came from elsewhere."""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.workspace import PlatformAccess
from approvals import errors
from approvals.events import decision_from_item
from approvals.models import (
    CreateApprovalInput,
    CreatedApproval,
    Decision,
    DecisionSource,
    ExpireApprovalInput,
    ExpireOutcome,
    RecordDecisionInput,
    WaitForDecisionInput,
)
from approvals.platform_client import ExpireResult, PlatformError

logger = logging.getLogger(__name__)


def as_application_error(error: PlatformError) -> ApplicationError:
    """Carry the platform's verdict into Temporal's retry decision."""
    return ApplicationError(error.message, type=error.kind, non_retryable=not error.retryable)


def heartbeat_period() -> float:
    """Heartbeat three times per heartbeat timeout, so one lost beat is not fatal."""
    timeout = activity.info().heartbeat_timeout
    return max(0.2, timeout.total_seconds() / 3) if timeout else 10.0


class PlatformHttpActivities:
    def __init__(self, access: PlatformAccess) -> None:
        self._access = access

    @activity.defn
    async def create_approval(self, request: CreateApprovalInput) -> CreatedApproval:
        """POST the request once, however often Temporal retries this activity.

        The ``Idempotency-Key`` makes the platform hand back the first request
        when a retry follows a POST whose reply was lost.
        """
        platform = self._access.client(request.workspace_id)
        try:
            approval_id = await platform.create_approval(
                request.action,
                request.reason,
                idempotency_key=request.idempotency_key,
                task_id=request.task_id,
                requester=request.requester or None,
                timeout_seconds=request.timeout_seconds,
            )
        except PlatformError as error:
            raise as_application_error(error) from error
        logger.info("approval requested: id=%s", approval_id)
        return CreatedApproval(approval_id=approval_id)

    @activity.defn
    async def poll_for_decision(self, request: WaitForDecisionInput) -> Decision:
        """Read the approval's state every poll interval until it is decided.

        One long activity, not a workflow loop: a wait of days then costs a
        handful of history events instead of one per poll. Transient errors and
        malformed replies keep it polling; "not found" is never a decision.
        """
        platform = self._access.client(request.workspace_id)
        beat = heartbeat_period()
        while True:
            try:
                item = await platform.get_approval(request.approval_id)
            except PlatformError as error:
                if error.kind == errors.PLATFORM_REJECTED:
                    raise as_application_error(error) from error
                logger.warning("poll for %s failed, will retry: %s", request.approval_id, error)
            else:
                decision = decision_from_item(item, request.approval_id, DecisionSource.POLLING)
                if decision is not None:
                    return decision
            await sleep_with_heartbeat(request.poll_interval_seconds, beat)

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
            if result is not ExpireResult.ALREADY_DECIDED:
                return ExpireOutcome(expired=result is ExpireResult.EXPIRED)
            item = await platform.get_approval(request.approval_id)
        except PlatformError as error:
            raise as_application_error(error) from error
        decision = decision_from_item(item, request.approval_id, DecisionSource.EXPIRY)
        return ExpireOutcome(expired=False, decision=decision)

    @activity.defn
    async def record_decision(self, request: RecordDecisionInput) -> bool:
        """Write a decision taken from a ``decide`` signal to the platform, so its inbox
        does not show as pending a request the agent already has an answer for.

        Returns False when the platform no longer takes decisions for it (404:
        decided there first, or expired): the workflow's first decision stands
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
            if error.status_code == 404:
                return False
            raise as_application_error(error) from error
        return True


async def sleep_with_heartbeat(seconds: float, beat: float) -> None:
    """Sleep ``seconds`` while heartbeating every ``beat`` seconds (cancellation arrives here)."""
    deadline = time.monotonic() + seconds
    while True:
        activity.heartbeat()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(beat, remaining))
