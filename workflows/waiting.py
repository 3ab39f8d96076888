"""The wait for a decision: one durable timer per step, refusals and votes audited as
they come, the policy's reminders and escalations carried out in between."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from durable_approvals.workflows.audit_trail import AuditTrail
from durable_approvals.workflows.decision_rules import DecisionRules
from durable_approvals.workflows.escalation import Step, StepKind
from durable_approvals.workflows.escalation_run import EscalationRun
from durable_approvals.workflows.platform_calls import PlatformCalls

SETTLE = timedelta(milliseconds=1)
"""A timer that ends the workflow task (docs/internals.md, "The clock")."""


class Wait:
    """Waits until a decision is taken or the deadline in force passes."""

    def __init__(
        self,
        rules: DecisionRules,
        trail: AuditTrail,
        escalation: EscalationRun,
        platform: PlatformCalls,
        escalate_to: str | None,
        *,
        after_step: Callable[[Step], None] = lambda step: None,
    ) -> None:
        self._rules = rules
        self._after_step = after_step
        self._trail = trail
        self._escalation = escalation
        self._platform = platform
        self._escalate_to = escalate_to
        self.deadline: datetime | None = None
        """The deadline in force: the first one, then the second if it escalated."""

    async def until(self, deadline: datetime) -> None:
        """Return once a decision is taken or at ``deadline``; refusals and votes are
        audited as they come."""
        trail = self._trail
        while self._rules.decision is None:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._rules.decision is not None
                        or trail.refusals_unwritten()
                        or trail.votes_unwritten()
                    ),
                    timeout=remaining,
                )
            except TimeoutError:
                return
            if self._rules.decision is None:
                await trail.write_arrivals()  # the outcome's record comes first otherwise

    async def through_policy(self, approval_id: str) -> None:
        """``until`` each of the policy's steps in turn (one timer each), carrying it out."""
        assert self.deadline is not None
        run = self._escalation
        run.start(self.deadline)
        while self._rules.decision is None:
            step, due = run.next_step(workflow.now())
            await self.until(due)
            if self._rules.decision is not None or step.kind is StepKind.DEADLINE:
                return
            # Complete the task that saw the step come due before carrying it out: if that
            # task failed, its retry could take a decision that arrived meanwhile, after a
            # reminder or escalation its local activities had already done and audited.
            await workflow.sleep(SETTLE)
            if self._rules.decision is not None:
                return
            if step.kind is StepKind.REMIND:
                await run.remind(step.number, approval_id, self._platform, self._trail)
                self._after_step(step)
                continue
            assert self._escalate_to is not None  # the request's validation
            self.deadline = await run.escalate(
                step,
                to=self._escalate_to,
                now=workflow.now(),
                deadline=self.deadline,
                approval_id=approval_id,
                platform=self._platform,
                trail=self._trail,
            )
            self._after_step(step)
