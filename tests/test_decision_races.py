"""Decisions that arrive twice, or race the timer: taken once, and never lost to the timer."""

from __future__ import annotations

import uuid

from approvals.models import ApprovalStatus, Decision, DecisionSource
from tests.helpers import (
    approval_request,
    audit_records,
    finish,
    platform_client,
    running_worker,
    scheduled_activities,
    start,
    wait_pending,
)
from tests.test_durable_timer import settled, timer_only_worker
from workflows.approval import ApprovalWorkflow


async def test_the_same_decision_arriving_twice_is_taken_once(dev_env, settings, platform):
    """Socket, poller and a retried signal can all carry the same click."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="frank")
        repeat = Decision(approval_id=approval_id, approved=True, decided_by="frank")
        await handle.signal(ApprovalWorkflow.decide, repeat)
        await handle.signal(ApprovalWorkflow.decide, repeat)
        result = await finish(handle, "same_decision_twice")

    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "frank")
    assert [r["outcome"] for r in audit_records(settings)] == ["requested", "granted"]


async def test_a_click_that_races_the_timer_wins_over_the_timeout(dev_env, settings, platform):
    """The human decides just before the deadline and nothing carries the click to the
    workflow (no socket, polls refused: only the timer is left). The expiry finds the
    decision on the platform, and the agent gets it, not a timeout that would
    contradict what the platform shows."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=3))
            approval_id = await wait_pending(handle)
            await settled(handle, settings)
            await api.decide(approval_id, approved=False, decided_by="grace")
            result = await finish(handle, "decision_races_timer")
        item = await api.get_approval(approval_id)

    assert (result.status, result.decided_by) == (ApprovalStatus.DENIED, "grace")
    assert item is not None and item["status"] == "denied"
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "denied"]
    assert records[1]["via"] == DecisionSource.EXPIRY.value


async def test_a_decision_sent_by_signal_is_written_to_the_platform(dev_env, settings, platform):
    """Decided with ``temporal workflow signal`` or a client: the inbox shows it too,
    instead of a request pending forever that a late click could still 'approve'."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        by_signal = Decision(
            approval_id=approval_id, approved=True, decided_by="henry", comment="via CLI"
        )
        await handle.signal(ApprovalWorkflow.decide, by_signal)
        result = await finish(handle, "decided_by_signal")
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)

    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "henry")
    assert item is not None
    assert (item["status"], item["decided_by"], item["comment"]) == ("approved", "henry", "via CLI")
    decided = audit_records(settings)[1]
    assert (decided["via"], decided["recorded_on_platform"]) == ("client", True)
    # the listener was cancelled because the wait was over: no poller starts after it
    assert await scheduled_activities(handle) == [
        "check_permission",
        "create_approval",
        "listen_for_decision",
        "record_decision",
    ]


async def test_a_signal_that_the_platform_no_longer_takes_is_audited_as_such(
    dev_env, settings, platform
):
    """The platform was decided first, unseen by the workflow (no socket, polls refused),
    then a signal arrives: the workflow keeps the first decision it saw, and the audit
    record says the platform did not take it."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=60))
            approval_id = await wait_pending(handle)
            await settled(handle, settings)
            await api.decide(approval_id, approved=True, decided_by="ivy")
            late = Decision(approval_id=approval_id, approved=False, decided_by="jack")
            await handle.signal(ApprovalWorkflow.decide, late)
            result = await finish(handle, "signal_after_platform_decision")
        item = await api.get_approval(approval_id)

    assert (result.status, result.decided_by) == (ApprovalStatus.DENIED, "jack")
    assert item is not None and (item["status"], item["decided_by"]) == ("approved", "ivy")
    decided = audit_records(settings)[1]
    assert (decided["via"], decided["recorded_on_platform"]) == ("client", False)
