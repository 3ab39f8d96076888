"""A cancellation that arrives once the wait is over changes nothing: the approval ends
by its decision or its timeout, as its outcome record says (docs/internals.md, "The
clock"). Found by the chaos soak: the outcome record was written, a cancellation arrived
as the task completed, and the workflow ended cancelled under a ``timeout`` record.

The worker's audit writes are held (``HeldAudit``) while the outcome record is being
written; the workflow is cancelled meanwhile. Real dev server, real platform, both modes.
"""

from __future__ import annotations

import asyncio

import pytest

from durable_approvals.models import ApprovalResult, ApprovalStatus
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    platform_client,
    start,
    wait_pending,
)
from tests.test_decide_update import held_worker

pytestmark = pytest.mark.platform_modes("reference", "strict")


async def _cancel_during_the_outcome_write(handle, audit, ready) -> ApprovalResult:
    """Hold the audit, wait until ``ready``, cancel, release: the workflow's result."""
    with audit.held():
        await eventually(ready, timeout=30)
        await asyncio.sleep(0.5)  # the outcome's write is waiting on the hold
        await handle.cancel()
        await asyncio.sleep(1.0)  # the cancellation reaches the workflow meanwhile
    result: ApprovalResult = await asyncio.wait_for(handle.result(), 60)
    return result


def _outcome_records(settings, approval_id: str) -> list[str]:
    return [
        r["outcome"]
        for r in audit_records(settings)
        if r.get("approval_id") == approval_id and r["event_id"].endswith("/outcome")
    ]


async def test_a_cancellation_while_timing_out_changes_nothing(dev_env, settings, platform):
    client = dev_env.client
    async with held_worker(client, settings) as (task_queue, audit):
        handle = await start(client, task_queue, approval_request(timeout_seconds=2))
        approval_id = await wait_pending(handle)

        async def timer_fired() -> bool:
            history = await handle.fetch_history()
            return any(e.HasField("timer_fired_event_attributes") for e in history.events)

        result = await _cancel_during_the_outcome_write(handle, audit, timer_fired)

    assert result.status is ApprovalStatus.TIMEOUT
    assert _outcome_records(settings, approval_id) == ["timeout"]


async def test_a_cancellation_while_concluding_changes_nothing(dev_env, settings, platform):
    client = dev_env.client
    async with held_worker(client, settings) as (task_queue, audit):
        handle = await start(client, task_queue, approval_request(timeout_seconds=60))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            with audit.held():
                await api.decide(approval_id, approved=True, decided_by="alice")

                await asyncio.sleep(2.0)  # the listener's signal; the outcome write waits
                await handle.cancel()
                await asyncio.sleep(1.0)
            result: ApprovalResult = await asyncio.wait_for(handle.result(), 60)

    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    assert _outcome_records(settings, approval_id) == ["granted"]
