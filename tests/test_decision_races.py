"""Decisions that arrive twice, or race the timer: taken once, and never lost to the timer.

Against both platform modes (docs/platform-modes.md): on the strict one the expiry
has no route to call and reads the approval's state from the newest 50 instead.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.models import ApprovalStatus, Decision, DecisionSource
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    local_activity_attempts,
    platform_client,
    running_worker,
    scheduled_activities,
    start,
    wait_pending,
    worker_on_queue,
)
from tests.test_durable_timer import settled, timer_only_worker

pytestmark = pytest.mark.platform_modes("reference", "strict")


async def waiting(
    client: Client, handle: WorkflowHandle[Any, Any], task_queue: str, settings: Settings
) -> str:
    """The approval id once the workflow waits with nothing outstanding but its timer.

    Findable by the listener means the workflow task that upserted the search
    attributes has completed, and that task also ran the read once: a decision
    made from here on can come only by signal or from the expiry.
    """
    approval_id = await wait_pending(handle)
    index = ApprovalIndex(client, task_queue, WORKSPACE)
    await eventually(lambda: index.owner(approval_id))
    await settled(handle, settings)
    return approval_id


async def test_the_same_decision_arriving_twice_is_taken_once(dev_env, settings, platform):
    """The listener's socket event, its catch-up pass after a restart and the catch-up of
    the listener that took over can all carry the same click. Here the copies reach the
    workflow together (sent while no worker runs, so none is taken before the others
    arrive) and the real listener of the next worker adds one more: one decision,
    audited once, nothing refused."""
    client = dev_env.client
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(client, settings, api.http, task_queue):
            handle = await start(client, task_queue)
            approval_id = await waiting(client, handle, task_queue, settings)
        await api.decide(approval_id, approved=True, decided_by="frank")
    for source in (DecisionSource.WEBSOCKET, DecisionSource.CATCH_UP, DecisionSource.CATCH_UP):
        copy = Decision(approval_id=approval_id, approved=True, decided_by="frank", source=source)
        await handle.signal(ApprovalWorkflow.decide, copy)
    async with worker_on_queue(client, settings, task_queue):
        result = await finish(handle, "same_decision_twice")
        view = await handle.query(ApprovalWorkflow.status)

    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "frank")
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "granted"]
    assert records[1]["via"] == DecisionSource.WEBSOCKET.value  # the first copy
    assert view.rejected_decisions == 0
    history = await handle.fetch_history()
    signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    assert sum(event.event_type == signalled for event in history.events) >= 3


async def test_a_click_that_races_the_timer_wins_over_the_timeout(dev_env, settings, platform):
    """The human decides just before the deadline and nothing carries the click to the
    workflow (no listener runs, and the workflow's own read is done): only the timer is
    left. The expiry finds the decision on the platform, and the agent gets it, not a
    timeout that would contradict what the platform shows."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=3))
            approval_id = await waiting(dev_env.client, handle, task_queue, settings)
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
    assert result.decided_at is not None  # dated on arrival: the client did not say
    assert item is not None
    assert (item["status"], item["decided_by"]) == ("approved", "henry")
    assert item.get("comment") == (None if platform.strict else "via CLI")  # comment is [ext]
    decided = audit_records(settings)[1]
    assert (decided["via"], decided["recorded_on_platform"]) == ("client", True)
    # The wait itself ran nothing: every step is a local activity, none of them a
    # listener or a poller of this approval's own.
    assert await scheduled_activities(handle) == []
    assert [name for name, _ in await local_activity_attempts(handle)] == [
        "check_permission",
        "create_approval",
        "write_audit",
        "read_decision",
        "record_decision",
        "write_audit",
    ]


async def test_a_signal_that_the_platform_no_longer_takes_is_audited_as_such(
    dev_env, settings, platform
):
    """The platform was decided first, unseen by the workflow (no listener runs, and the
    workflow's own read is done), then a signal arrives: the workflow keeps the first
    decision it saw, and the audit record says the platform did not take it."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=60))
            approval_id = await waiting(dev_env.client, handle, task_queue, settings)
            await api.decide(approval_id, approved=True, decided_by="ivy")
            late = Decision(approval_id=approval_id, approved=False, decided_by="jack")
            await handle.signal(ApprovalWorkflow.decide, late)
            result = await finish(handle, "signal_after_platform_decision")
        item = await api.get_approval(approval_id)

    assert (result.status, result.decided_by) == (ApprovalStatus.DENIED, "jack")
    assert item is not None and (item["status"], item["decided_by"]) == ("approved", "ivy")
    decided = audit_records(settings)[1]
    assert (decided["via"], decided["recorded_on_platform"]) == ("client", False)
