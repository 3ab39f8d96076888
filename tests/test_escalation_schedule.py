"""The escalation schedule (workflows/escalation.py), without Temporal: which step comes
next for a policy, the time waited and the escalations done."""

from __future__ import annotations

import pytest

from durable_approvals.models import ApprovalRequest
from durable_approvals.workflows.escalation import Policy, Step, StepKind, next_reminder, next_step

DAY = 86_400.0
WEEK_CHAIN = Policy(
    timeout=4 * DAY,
    remind_every=DAY,
    escalate_after=2 * DAY,
    escalate_at_deadline=True,
    escalation_timeout=3 * DAY,
)
"""The issue's week: a reminder a day, escalated after 2 days, the deadline at 4 days
escalates again and gives 3 more days, then it times out (7 days in all)."""


def run_chain(policy: Policy) -> list[Step]:
    """Every step in order, as the workflow takes them when no decision comes."""
    steps: list[Step] = []
    elapsed, escalations, last = 0.0, 0, 0
    while True:
        step = next_step(policy, elapsed, escalations, last)
        steps.append(step)
        if step.kind is StepKind.DEADLINE:
            return steps
        elapsed = max(elapsed, step.at)
        if step.kind is StepKind.REMIND:
            last = step.number
        else:
            escalations = step.number


def test_the_week_long_chain():
    assert run_chain(WEEK_CHAIN) == [
        Step(StepKind.REMIND, DAY, 1),
        Step(StepKind.ESCALATE, 2 * DAY, 1),  # the reminder of day 2 is dropped
        Step(StepKind.REMIND, 3 * DAY, 3),
        Step(StepKind.ESCALATE_AT_DEADLINE, 4 * DAY, 2),  # day 4's reminder too
        Step(StepKind.REMIND, 5 * DAY, 5),
        Step(StepKind.REMIND, 6 * DAY, 6),
        Step(StepKind.DEADLINE, 7 * DAY),  # day 7's reminder too
    ]
    assert WEEK_CHAIN.final_deadline == 7 * DAY and WEEK_CHAIN.escalations == 2


def test_no_policy_is_one_deadline():
    assert run_chain(Policy(timeout=60)) == [Step(StepKind.DEADLINE, 60)]


def test_reminders_only():
    steps = run_chain(Policy(timeout=10, remind_every=3))
    assert steps == [
        Step(StepKind.REMIND, 3, 1),
        Step(StepKind.REMIND, 6, 2),
        Step(StepKind.REMIND, 9, 3),
        Step(StepKind.DEADLINE, 10),
    ]


def test_escalate_on_timeout_alone_defaults_to_a_second_deadline_as_long_as_the_first():
    policy = Policy(timeout=100, escalate_at_deadline=True)
    assert run_chain(policy) == [
        Step(StepKind.ESCALATE_AT_DEADLINE, 100, 1),
        Step(StepKind.DEADLINE, 200),
    ]


def test_escalate_after_with_deny_on_timeout():
    assert run_chain(Policy(timeout=100, escalate_after=40)) == [
        Step(StepKind.ESCALATE, 40, 1),
        Step(StepKind.DEADLINE, 100),
    ]


def test_missed_reminders_are_not_sent_in_a_burst():
    """A worker back after 3.5 days sends the one reminder that was due, then day 4's."""
    policy = Policy(timeout=10 * DAY, remind_every=DAY)
    assert next_step(policy, 0.0) == Step(StepKind.REMIND, DAY, 1)
    # the reminder's timer fired at day 1, the worker ran again at day 3.5: that reminder
    # is sent now (late), the next is the one after day 3.5
    assert next_step(policy, 3.5 * DAY, 0, 1) == Step(StepKind.REMIND, 4 * DAY, 4)


def test_a_missed_escalation_is_done_late_not_skipped():
    """Escalations are counted: one whose time passed unobserved is due at once."""
    step = next_step(WEEK_CHAIN, 5 * DAY, 0, 0)
    assert step == Step(StepKind.ESCALATE, 2 * DAY, 1)  # in the past: do it now
    assert next_step(WEEK_CHAIN, 5 * DAY, 1, 0).kind is StepKind.ESCALATE_AT_DEADLINE
    assert next_step(WEEK_CHAIN, 8 * DAY, 2, 0) == Step(StepKind.DEADLINE, 7 * DAY)


def test_a_reminder_is_never_repeated_even_when_the_clock_has_not_moved():
    """Floating point: 0.3 / 0.1 is 2.999..., the same instant must not remind twice."""
    policy = Policy(timeout=1.0, remind_every=0.1)
    first = next_step(policy, 0.3, 0, 0)
    again = next_step(policy, 0.3, 0, first.number)
    assert again.number == first.number + 1 and again.at > first.at


@pytest.mark.parametrize(
    ("elapsed", "escalations", "last", "expected"),
    [
        (0.0, 0, 0, DAY),
        (DAY, 0, 1, 3 * DAY),  # day 2 is the escalation's: the next reminder is day 3
        (2 * DAY, 1, 1, 3 * DAY),
        (6 * DAY, 2, 6, None),  # day 7 is the deadline
    ],
)
def test_next_reminder(elapsed, escalations, last, expected):
    assert next_reminder(WEEK_CHAIN, elapsed, escalations, last) == expected
    assert next_reminder(Policy(timeout=60), 0.0) is None


def test_the_policy_of_a_request():
    request = ApprovalRequest(
        workspace_id="ws",
        action="drop",
        timeout_seconds=4 * DAY,
        remind_every=DAY,
        escalate_after=2 * DAY,
        escalate_to="oncall-leads",
        on_timeout="escalate",
        escalation_timeout=3 * DAY,
    )
    assert Policy.of(request) == WEEK_CHAIN
    assert request.has_escalation_policy and request.total_timeout_seconds == 7 * DAY
    plain = ApprovalRequest(workspace_id="ws", action="drop")
    assert not plain.has_escalation_policy
    assert plain.total_timeout_seconds == plain.timeout_seconds
