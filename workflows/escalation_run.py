"""One approval's escalation and reminders as they happen (docs/policies/escalation.md).

``workflows/escalation.py`` says what comes next for a policy; this keeps what was done
(reminders sent, escalations made, to whom, when) and carries out a step: show it on
the platform (best effort) and write its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from durable_approvals.models import AuditOutcome
from durable_approvals.workflows.audit_trail import AuditTrail
from durable_approvals.workflows.escalation import (
    Policy,
    Step,
    StepKind,
    next_reminder,
    next_step,
)
from durable_approvals.workflows.platform_calls import PlatformCalls


@dataclass
class EscalationRun:
    """What an approval's policy did so far; without a policy, nothing ever happens."""

    policy: Policy | None = None
    since: datetime | None = None
    """When the wait began (the request's creation): policy times count from here."""
    escalated_to: str | None = None
    escalated_at: datetime | None = None
    escalations: int = 0
    reminders: int = 0
    last_reminder: int = 0

    def start(self, deadline: datetime) -> None:
        """The wait began ``policy.timeout`` before ``deadline``."""
        assert self.policy is not None
        self.since = deadline - timedelta(seconds=self.policy.timeout)

    def next_step(self, now: datetime) -> tuple[Step, datetime]:
        """The policy's next step and when it is due."""
        assert self.policy is not None and self.since is not None
        elapsed = (now - self.since).total_seconds()
        step = next_step(self.policy, elapsed, self.escalations, self.last_reminder)
        return step, self.since + timedelta(seconds=step.at)

    def final_deadline(self) -> datetime:
        assert self.policy is not None and self.since is not None
        return self.since + timedelta(seconds=self.policy.final_deadline)

    def next_reminder_at(self, now: datetime) -> datetime | None:
        """When the next reminder is due, or ``None``: no policy, not started, no more."""
        if self.policy is None or self.since is None:
            return None
        elapsed = (now - self.since).total_seconds()
        at = next_reminder(self.policy, elapsed, self.escalations, self.last_reminder)
        return None if at is None else self.since + timedelta(seconds=at)

    async def remind(
        self, number: int, approval_id: str, platform: PlatformCalls, trail: AuditTrail
    ) -> None:
        """Send reminder ``number``: shown on the platform if it can, then audited."""
        self.last_reminder = number
        self.reminders += 1
        shown = await platform.show_reminder(approval_id, number, self.escalated_to)
        await trail.record(
            f"reminded-{number}",
            outcome=AuditOutcome.REMINDED,
            approval_id=approval_id,
            reminder=number,
            escalated_to=self.escalated_to,
            shown_on_platform=shown.value,
            platform_error=shown.error,
        )

    async def escalate(
        self,
        step: Step,
        *,
        to: str,
        now: datetime,
        deadline: datetime,
        approval_id: str,
        platform: PlatformCalls,
        trail: AuditTrail,
    ) -> datetime:
        """Escalate to ``to``: shown on the platform if it can, then audited. Returns the
        deadline in force after it (the final one when the deadline itself escalates)."""
        self.escalations = step.number
        self.escalated_to = to
        self.escalated_at = now
        at_deadline = step.kind is StepKind.ESCALATE_AT_DEADLINE
        if at_deadline:
            deadline = self.final_deadline()  # the second deadline
        shown = await platform.show_escalation(approval_id, to, step.number, deadline)
        await trail.record(
            f"escalated-{step.number}",
            outcome=AuditOutcome.ESCALATED,
            approval_id=approval_id,
            escalated_to=to,
            level=step.number,
            because="timeout" if at_deadline else "escalate_after",
            deadline=deadline.isoformat(),
            shown_on_platform=shown.value,
            platform_error=shown.error,
        )
        return deadline
