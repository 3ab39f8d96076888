"""The approval workflow's calls to the platform: every one best effort but the create.

A failed call is logged and answered as a fallback (no decision, not shown), so the
wait, the timeout and the audit go on whatever the platform does (docs/internals.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import durable_approvals.workflows.activity_options as options
    from durable_approvals.activities.messages import (
        EscalateApprovalInput,
        ExpireApprovalInput,
        ExpireOutcome,
        ReadApprovalInput,
        RecordDecisionInput,
        RemindApprovalInput,
    )
    from durable_approvals.activities.platform_http import PlatformHttpActivities
    from durable_approvals.models import Decision

T = TypeVar("T")

ACTIVITY_FAILED = (ActivityError, ApplicationError)
"""What a failed local activity raises: the activity's own ``ApplicationError`` (retries
exhausted or non-retryable), or an ``ActivityError`` (timed out, cancelled)."""

Call = Callable[[Any, Any, options.CallOptions], Awaitable[Any]]
"""Runs one activity with its options (the workflow's ``_call``)."""


def failure_message(error: ActivityError | ApplicationError) -> str:
    """The activity's own message, not the wrapper's."""
    if isinstance(error, ApplicationError):
        return error.message
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or error)


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A best-effort call's answer: its value, or the fallback and why."""

    value: T
    error: str | None = None


class PlatformCalls:
    """The platform activities one approval runs after its create, each best effort."""

    def __init__(
        self, workspace_id: str, call: Call, logger: logging.LoggerAdapter[Any] | logging.Logger
    ) -> None:
        self._workspace_id = workspace_id
        self._call = call
        self._logger = logger  # workflow.logger in the workflow: quiet on replay

    async def best_effort(
        self,
        activity: Any,
        arg: Any,
        fallback: T,
        what: str,
        call: options.CallOptions = options.PLATFORM_CALL,
    ) -> Answer[T]:
        """Run ``activity`` with ``call``'s options; on failure log ``could not <what>``
        and answer ``fallback`` with the failure's message."""
        try:
            value: T = await self._call(activity, arg, call)
        except ACTIVITY_FAILED as error:
            self._logger.warning("could not %s: %s", what, error)
            return Answer(fallback, failure_message(error))
        return Answer(value)

    async def read_decision(self, approval_id: str) -> Decision | None:
        """The decision the platform holds, or ``None`` (open, or unreadable now)."""
        read = ReadApprovalInput(workspace_id=self._workspace_id, approval_id=approval_id)
        answer: Answer[Decision | None] = await self.best_effort(
            PlatformHttpActivities.read_decision, read, None, f"read {approval_id} once"
        )
        return answer.value

    async def expire(
        self, approval_id: str, why: str, retry_for_seconds: float | None = None
    ) -> ExpireOutcome | None:
        """Close the request on the platform, trying for ``retry_for_seconds`` while it
        does not answer (``options.expire_call``): ``None`` when it could not."""
        expire = ExpireApprovalInput(
            workspace_id=self._workspace_id, approval_id=approval_id, reason=why
        )
        answer: Answer[ExpireOutcome | None] = await self.best_effort(
            PlatformHttpActivities.expire_approval,
            expire,
            None,
            f"expire {approval_id}",
            options.expire_call(retry_for_seconds),
        )
        return answer.value

    async def record_decision(self, decision: Decision, *, final: bool) -> bool:
        """Write a decision taken elsewhere to the platform: whether it holds it now."""
        record = RecordDecisionInput(
            workspace_id=self._workspace_id, decision=decision, final=final
        )
        answer = await self.best_effort(
            PlatformHttpActivities.record_decision,
            record,
            False,
            "record the decision on the platform",
        )
        return answer.value

    async def show_reminder(
        self, approval_id: str, number: int, escalated_to: str | None
    ) -> Answer[bool]:
        """Show reminder ``number`` on the platform (False: no route, or it failed)."""
        remind = RemindApprovalInput(
            workspace_id=self._workspace_id,
            approval_id=approval_id,
            reminder=number,
            escalated_to=escalated_to,
        )
        return await self.best_effort(
            PlatformHttpActivities.remind_approval, remind, False, "tell the platform"
        )

    async def show_escalation(
        self, approval_id: str, escalated_to: str, level: int, expires_at: datetime
    ) -> Answer[bool]:
        """Show an escalation on the platform (False: no route, or it failed)."""
        escalate = EscalateApprovalInput(
            workspace_id=self._workspace_id,
            approval_id=approval_id,
            escalated_to=escalated_to,
            level=level,
            expires_at=expires_at,
        )
        return await self.best_effort(
            PlatformHttpActivities.escalate_approval, escalate, False, "tell the platform"
        )
