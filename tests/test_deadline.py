"""The deadline is a fact the rules check (docs/internals.md, "The deadline").

A decision counts only if it was made before the deadline: the platform's
``decided_at``, or its arrival (``workflow.now()``) for a decision sent to the
workflow. The tests make the two orderings that used to slip through: a decision
that reaches the workflow in the same task as the fired timer (signals are applied
before timers), and a platform decision made after the deadline that the expiry
reads. Real dev server, real platform, both modes; no listener runs (only the
paths under test deliver the decision).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from durable_approvals.models import DECIDE_SIGNAL, ApprovalStatus, Decision
from tests.helpers import (
    approval_request,
    audit_records,
    finish,
    outcomes,
    platform_client,
    start,
    wait_pending,
)
from tests.test_durable_timer import timer_only_worker

pytestmark = pytest.mark.platform_modes("reference", "strict")

TIMEOUT = 2


def late_refusals(settings) -> list[tuple[str, str]]:
    return [
        (record["decided_by"], record["via"])
        for record in audit_records(settings)
        if record["outcome"] == "rejected" and record.get("rejected_because") == "late"
    ]


async def test_a_signal_in_the_timer_s_task_after_the_deadline_is_late(dev_env, settings, platform):
    """No worker at the deadline; a decision is signalled after it; the next worker gets
    the fired timer and the signal in one task: the signal is late, the request times out."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(
                dev_env.client, task_queue, approval_request(timeout_seconds=TIMEOUT)
            )
            approval_id = await wait_pending(handle)
        await asyncio.sleep(TIMEOUT + 1)  # no worker: the timer fires unobserved
        decision = Decision(approval_id=approval_id, approved=True, decided_by="alice")
        await handle.signal(DECIDE_SIGNAL, decision)
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            result = await finish(handle, "late_signal_in_the_timer_task", timeout=60)
        item = await api.get_approval(approval_id)

    assert result.status is ApprovalStatus.TIMEOUT
    assert item is not None
    assert item["status"] == ("pending" if platform.strict else "expired")  # strict: no route
    assert outcomes(settings) == ["requested", "rejected", "timeout"]
    assert late_refusals(settings) == [("alice", "client")]


async def test_a_platform_decision_after_the_deadline_is_not_adopted(dev_env, settings, platform):
    """No worker at the deadline; a human decides on the platform after it; the expiry
    finds that decision: it was made late, so the request times out all the same."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(
                dev_env.client, task_queue, approval_request(timeout_seconds=TIMEOUT)
            )
            approval_id = await wait_pending(handle)
        await asyncio.sleep(TIMEOUT + 1)  # no worker: the timer fires unobserved
        await api.decide(approval_id, approved=True, decided_by="bob")
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            result = await finish(handle, "late_platform_decision_at_expiry", timeout=60)

    assert result.status is ApprovalStatus.TIMEOUT
    # read after the wait had closed: its record comes after the outcome's
    assert outcomes(settings) == ["requested", "timeout", "rejected"]
    assert late_refusals(settings) == [("bob", "expiry")]
