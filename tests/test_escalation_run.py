"""An approval's escalation run (workflows/escalation_run.py), without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from durable_approvals.workflows.escalation import Policy, StepKind
from durable_approvals.workflows.escalation_run import EscalationRun

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_without_a_policy_nothing_is_due():
    assert EscalationRun().next_reminder_at(at(5)) is None


def test_steps_are_due_from_the_creation():
    run = EscalationRun(Policy(timeout=60, remind_every=20, escalate_after=30))
    run.start(deadline=at(60))
    assert run.since == START
    step, due = run.next_step(at(1))
    assert (step.kind, due) == (StepKind.REMIND, at(20))
    assert run.next_reminder_at(at(1)) == at(20)
    run.last_reminder = 1
    step, due = run.next_step(at(20))
    assert (step.kind, due) == (StepKind.ESCALATE, at(30))


def test_the_final_deadline_counts_the_escalation_timeout():
    run = EscalationRun(Policy(timeout=60, escalate_at_deadline=True, escalation_timeout=30))
    run.start(deadline=at(60))
    step, due = run.next_step(at(1))
    assert (step.kind, due) == (StepKind.ESCALATE_AT_DEADLINE, at(60))
    assert run.final_deadline() == at(90)
    run.escalations = 1
    step, due = run.next_step(at(60))
    assert (step.kind, due) == (StepKind.DEADLINE, at(90))
