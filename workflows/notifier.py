"""The approval workflow's channel notifications (docs/channels.md): best-effort calls of the
notify activity at each moment of an approval, each running beside the workflow's own steps.

Off (no command at all, so histories without channels replay unchanged) unless the RBAC
verdict says the workspace configured a channel. Each notice is a regular activity that
never fails (it reports its error instead); its audit record, ``notified`` or
``notify-failed``, is written when it ends, by a regular activity (the workflow's
``_record_beside``). The workflow gives outstanding notices at most
``GRACE`` before it returns its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from durable_approvals.activities.notify import NotifyActivities, NotifyReport
    from durable_approvals.channels.notice import ApprovalNotice, NoticeEvent
    from durable_approvals.models import ApprovalRequest

NOTIFY_TIMEOUT = timedelta(minutes=3)
NOTIFY_HEARTBEAT = timedelta(seconds=10)
NOTIFY_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))
"""Attempts of the activity (its own three tries each): a worker crash, not Slack, retries;
a dead worker's attempt is noticed when its heartbeats stop."""
GRACE = timedelta(seconds=10)

Audit = Callable[..., Awaitable[None]]


class ChannelNotifier:
    """Starts notices and audits how each went; ``settle`` bounds the wait for them."""

    def __init__(self, request: ApprovalRequest, audit: Audit, *, enabled: bool) -> None:
        self._request = request
        self._audit = audit
        self.enabled = enabled
        self._sent = 0
        self._running: list[asyncio.Task[None]] = []

    def tell(
        self,
        event: NoticeEvent,
        *,
        approval_id: str,
        deadline: datetime | None,
        sequence: int = 0,
        **state: Any,
    ) -> None:
        """Notify the channels of ``event`` (no-op when off); returns at once."""
        if not self.enabled:
            return
        request = self._request
        notice = ApprovalNotice(
            workspace_id=request.workspace_id,
            approval_id=approval_id,
            event=event,
            sequence=sequence,
            at=workflow.now(),
            action=request.action,
            reason=request.reason,
            requester=request.requester,
            args=request.args,
            approver_group=request.approver_group,
            approvals_required=request.approvals_required,
            deadline=deadline,
            **state,
        )
        self._sent += 1
        self._running.append(asyncio.create_task(self._notify(self._sent, notice)))

    async def _notify(self, number: int, notice: ApprovalNotice) -> None:
        try:
            report: NotifyReport = await workflow.execute_activity_method(
                NotifyActivities.notify,
                notice,
                schedule_to_close_timeout=NOTIFY_TIMEOUT,
                heartbeat_timeout=NOTIFY_HEARTBEAT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as error:  # timed out across worker crashes: reported
            report = NotifyReport(configured=True, error=str(error.cause or error)[:500])
        if not report.configured:
            return
        await self._audit(
            f"notified-{number}",
            outcome="notify-failed" if report.error else "notified",
            event_type="notify",
            approval_id=notice.approval_id,
            notice=notice.event.value,
            slack_messages=report.slack_messages,
            emails=report.emails,
            error=report.error,
        )

    async def settle(self) -> None:
        """Wait for outstanding notices, at most ``GRACE``."""
        running = [task for task in self._running if not task.done()]
        if not running:
            return
        try:
            await workflow.wait_condition(
                lambda: all(task.done() for task in running), timeout=GRACE
            )
        except TimeoutError:
            workflow.logger.warning("%d notification(s) still running at the end", len(running))


__all__ = ["GRACE", "ChannelNotifier"]
