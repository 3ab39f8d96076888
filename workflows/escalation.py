"""When an approval with a policy reminds, escalates and gives up: a plain, deterministic
function of the policy, the time waited and the escalations done, tested without Temporal.

Times are seconds since the request was created. The workflow waits with one durable
timer for ``next_step``'s ``at``, or a decision, whichever comes first; then it carries
out the step and asks again. Escalations are counted, so none is ever skipped (a worker
down across one does it late); reminders are timed, so the ones missed while no worker
ran are not sent in a burst: only the one that was due.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from durable_approvals.models import ApprovalRequest, OnTimeout


class StepKind(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"  # escalate_after: escalate, keep the deadline
    ESCALATE_AT_DEADLINE = "escalate_at_deadline"  # on_timeout=escalate: a second deadline
    DEADLINE = "deadline"  # time out


@dataclass(frozen=True)
class Step:
    kind: StepKind
    at: float
    """Seconds after the request was created."""
    number: int = 0
    """A reminder's period number (1 at ``remind_every``), or an escalation's level (1, 2)."""


@dataclass(frozen=True)
class Policy:
    timeout: float
    remind_every: float | None = None
    escalate_after: float | None = None
    escalate_at_deadline: bool = False
    escalation_timeout: float | None = None

    @classmethod
    def of(cls, request: ApprovalRequest) -> Policy:
        return cls(
            timeout=request.timeout_seconds,
            remind_every=request.remind_every,
            escalate_after=request.escalate_after,
            escalate_at_deadline=request.on_timeout is OnTimeout.ESCALATE,
            escalation_timeout=request.escalation_timeout,
        )

    @property
    def escalations(self) -> int:
        """How many escalations the whole wait has: 0, 1 or 2."""
        return int(self.escalate_after is not None) + int(self.escalate_at_deadline)

    @property
    def final_deadline(self) -> float:
        """When the request times out, the second deadline included."""
        if self.escalate_at_deadline:
            return self.timeout + (self.escalation_timeout or self.timeout)
        return self.timeout


def next_step(
    policy: Policy, elapsed: float, escalations_done: int = 0, last_reminder: int = 0
) -> Step:
    """The next thing to do, after ``elapsed`` seconds, with ``escalations_done`` done and
    reminders sent up to period ``last_reminder``.

    1. ``escalate_after`` not done yet: ``ESCALATE`` at ``escalate_after``, level 1;
    2. else, with ``on_timeout=escalate`` and its escalation not done: ``ESCALATE_AT_DEADLINE``
       at ``timeout``;
    3. else ``DEADLINE`` at the final deadline (``timeout``, plus ``escalation_timeout``
       when the deadline escalated);
    4. a reminder comes first if its time (the first multiple of ``remind_every`` after
       ``elapsed``, and after ``last_reminder``'s) is strictly earlier than that step's;
       one falling on the same instant is dropped (the escalation or the deadline says more).

    A returned ``at`` may be in the past (an escalation a worker missed): do it now.
    """
    before = 1 if policy.escalate_after is not None else 0
    if policy.escalate_after is not None and escalations_done < 1:
        step = Step(StepKind.ESCALATE, policy.escalate_after, 1)
    elif policy.escalate_at_deadline and escalations_done < before + 1:
        step = Step(StepKind.ESCALATE_AT_DEADLINE, policy.timeout, before + 1)
    else:
        step = Step(StepKind.DEADLINE, policy.final_deadline)
    if policy.remind_every is not None:
        period = max(math.floor(elapsed / policy.remind_every), last_reminder) + 1
        if period * policy.remind_every <= elapsed:  # the division rounded down: k*r / r < k
            period += 1
        remind_at = period * policy.remind_every
        if remind_at < step.at:
            return Step(StepKind.REMIND, remind_at, period)
    return step


def next_reminder(
    policy: Policy, elapsed: float, escalations_done: int = 0, last_reminder: int = 0
) -> float | None:
    """When the next reminder is due (seconds after creation), or ``None``: no more."""
    step = next_step(policy, elapsed, escalations_done, last_reminder)
    if step.kind is StepKind.REMIND:
        return step.at
    if policy.remind_every is None or step.kind is StepKind.DEADLINE:
        return None
    # a missed escalation (``at`` in the past) is done now: reminders count from now
    return next_reminder(policy, max(elapsed, step.at), escalations_done + 1, last_reminder)


__all__ = ["Policy", "Step", "StepKind", "next_reminder", "next_step"]
