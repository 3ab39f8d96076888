"""Properties of the escalation schedule (workflows/escalation.py), without Temporal.

The workflow's loop is simulated: ask ``next_step``, do it at its time, ask again. For
every valid policy (built through ``ApprovalRequest``, so the model's cross-field rules
hold): the steps never go back in time and never pass the final deadline, which ends
the wait; every escalation happens once, in order; the reminders fall on the multiples
of ``remind_every`` before the final deadline, except one that falls on an escalation's
instant; a worker back after a gap sends only the reminder that is due next.
"""

from __future__ import annotations

import math

from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from durable_approvals.models import ApprovalRequest, OnTimeout
from durable_approvals.workflows.escalation import (
    Policy,
    Step,
    StepKind,
    next_reminder,
    next_step,
)

MAX_SIMULATED_REMINDERS = 60


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    timeout = draw(st.floats(2.0, 1e6))
    on_timeout = draw(st.sampled_from(list(OnTimeout)))
    escalation_timeout = (
        draw(st.none() | st.floats(1.0, 1e6)) if on_timeout is OnTimeout.ESCALATE else None
    )
    total = timeout + (escalation_timeout or timeout if on_timeout is OnTimeout.ESCALATE else 0)
    shortest = max(1.0, total / MAX_SIMULATED_REMINDERS)
    remind_every = draw(
        st.none()
        | (st.floats(shortest, timeout) if shortest < timeout else st.none())
        | st.sampled_from([1.0, 2.0, 7.0, 60.0])
    )
    escalate_after = draw(st.none() | st.floats(1.0, timeout) | st.integers(1, 10).map(float))
    escalates = escalate_after is not None or on_timeout is OnTimeout.ESCALATE
    try:
        request = ApprovalRequest(
            workspace_id="ws",
            action="deploy",
            timeout_seconds=timeout,
            on_timeout=on_timeout,
            escalation_timeout=escalation_timeout,
            remind_every=remind_every,
            escalate_after=escalate_after,
            escalate_to="oncall" if escalates else None,
        )
    except ValidationError:
        assume(False)
        raise
    policy = Policy.of(request)
    assume(policy.remind_every is None or policy.final_deadline / policy.remind_every < 200)
    return policy


def simulate(policy: Policy) -> list[Step]:
    """Every step the workflow takes when no decision comes, in order."""
    steps: list[Step] = []
    elapsed, escalations, last_reminder = 0.0, 0, 0
    while True:
        step = next_step(policy, elapsed, escalations, last_reminder)
        steps.append(step)
        assert len(steps) < 500, "the schedule does not end"
        if step.kind is StepKind.DEADLINE:
            return steps
        if step.kind is StepKind.REMIND:
            last_reminder = step.number
        else:
            escalations += 1
        elapsed = max(elapsed, step.at)


@given(policies())
def test_steps_never_go_back_and_end_at_the_final_deadline(policy):
    steps = simulate(policy)
    times = [step.at for step in steps]
    assert times == sorted(times)
    assert all(0 < at <= policy.final_deadline for at in times)
    assert steps[-1] == Step(StepKind.DEADLINE, policy.final_deadline)
    assert [s.kind for s in steps].count(StepKind.DEADLINE) == 1


@given(policies())
def test_every_escalation_happens_once_in_order(policy):
    escalations = [
        s for s in simulate(policy) if s.kind not in (StepKind.REMIND, StepKind.DEADLINE)
    ]
    assert [s.number for s in escalations] == list(range(1, policy.escalations + 1))
    expected = []
    if policy.escalate_after is not None:
        expected.append((StepKind.ESCALATE, policy.escalate_after))
    if policy.escalate_at_deadline:
        expected.append((StepKind.ESCALATE_AT_DEADLINE, policy.timeout))
    assert [(s.kind, s.at) for s in escalations] == expected


@given(policies())
@example(  # found: 30 * every == timeout, yet timeout / every < 30: reminder 30 was sent
    # right after the escalation at the same instant (dropped before it, sent after it)
    Policy(timeout=407624.6979016108, remind_every=13587.489930053694, escalate_at_deadline=True)
).via("discovered failure")
def test_reminders_fall_on_the_period_before_the_final_deadline(policy):
    reminders = [s for s in simulate(policy) if s.kind is StepKind.REMIND]
    if policy.remind_every is None:
        assert reminders == []
        return
    every = policy.remind_every
    for step in reminders:
        assert step.at == step.number * every
    numbers = [s.number for s in reminders]
    assert numbers == sorted(set(numbers))  # strictly increasing: none sent twice
    escalation_times = {
        s.at for s in simulate(policy) if s.kind not in (StepKind.REMIND, StepKind.DEADLINE)
    }
    due = [
        n
        for n in range(1, math.ceil(policy.final_deadline / every) + 1)
        if n * every < policy.final_deadline and n * every not in escalation_times
    ]
    assert numbers == due


@given(policies(), st.floats(0, 3e6), st.integers(0, 2), st.floats(0, 1))
@example(  # found by this test: next_reminder named a time already past (the status query)
    Policy(timeout=2.0, remind_every=1.0, escalate_at_deadline=True), 3.0, 0, 0.0
).via("discovered failure")
def test_a_worker_back_late_sends_only_the_reminder_due_next(policy, elapsed, done, sent):
    assume(policy.remind_every is not None)
    every = policy.remind_every
    assert every is not None
    escalations = min(done, policy.escalations)
    last_reminder = math.floor(sent * math.floor(elapsed / every))
    step = next_step(policy, elapsed, escalations, last_reminder)
    if step.kind is StepKind.REMIND:
        # the next period only, no burst (one due at this very instant is due now)
        assert elapsed <= step.at <= elapsed + every * (1 + 1e-12)  # (float sums round)
        assert step.number == max(math.floor(elapsed / every), last_reminder) + 1
    reminder = next_reminder(policy, elapsed, escalations, last_reminder)
    if reminder is not None:  # what the status query shows: a reminder still to come
        assert elapsed <= reminder < policy.final_deadline
        assert reminder == round(reminder / every) * every
