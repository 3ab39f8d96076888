"""A decision that arrives while a local activity runs is dated when the activity
returns, so the workflow reads one clock first time and on replay (docs/internals.md,
"The clock").

The SDK heartbeats the workflow task of a local activity that runs longer than 80% of
the task timeout; a decision that arrives meanwhile is delivered in the next task, at
that task's start. On replay the SDK delivers it together with the activity's result
when the activity ended in that same task, at the activity's completion time. Dated on
arrival, a decision delivered before the deadline by a task in which an activity then
ended after the deadline was taken first time and refused on replay: the history did not
replay (found by the fault schedule, issue 24).

The platform holds the workflow's first read (``Faults.read_gate``); the decision is
sent as soon as the request exists, so it is delivered by the first heartbeat's task;
the read is released after the deadline (or before it), within that task. Real dev
server, real platform, both modes, by signal and by update.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.worker import Replayer

from durable_approvals.converter import data_converter
from durable_approvals.models import (
    DECIDE_SIGNAL,
    DECIDE_UPDATE,
    ApprovalResult,
    ApprovalStatus,
    Decision,
    DecisionVerdict,
    VerdictOutcome,
)
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import approval_request, audit_records, eventually, running_worker

pytestmark = pytest.mark.platform_modes("reference", "strict")

TASK_TIMEOUT = timedelta(seconds=4)
"""The SDK heartbeats a task with a running local activity after 3.2 s."""
HEARTBEAT = 0.8 * TASK_TIMEOUT.total_seconds()


def _patient(settings: Settings) -> Settings:
    """The worker waits out the held read (the tests' HTTP timeout is 5 s)."""
    return settings.model_copy(update={"platform_http_timeout": 20.0})


async def _start(client: Any, task_queue: str, timeout_seconds: float) -> WorkflowHandle:
    return await client.start_workflow(
        ApprovalWorkflow.run,
        approval_request(timeout_seconds=timeout_seconds),
        id=f"approval-test-{uuid.uuid4()}",
        task_queue=task_queue,
        task_timeout=TASK_TIMEOUT,
    )


async def _requested(settings: Settings, workflow_id: str) -> dict[str, Any]:
    """The ``requested`` record: the approval id and the clock the deadline counts from."""

    async def find() -> dict[str, Any] | None:
        return next(
            (
                r
                for r in audit_records(settings)
                if r["outcome"] == "requested" and r["event_id"].startswith(workflow_id)
            ),
            None,
        )

    record: dict[str, Any] = await eventually(find, timeout=20)
    return record


async def _send(handle: WorkflowHandle, decision: Decision, way: str) -> DecisionVerdict | None:
    if way == "signal":
        await handle.signal(DECIDE_SIGNAL, decision)
        return None
    verdict: DecisionVerdict = await handle.execute_update(
        DECIDE_UPDATE, decision, result_type=DecisionVerdict
    )
    return verdict


async def _task_started_after(handle: WorkflowHandle, moment: datetime) -> datetime:
    """When the first workflow task started after ``moment`` (the one that delivers what
    was sent at ``moment``)."""

    async def started() -> datetime | None:
        async for event in handle.fetch_history_events():
            when = event.event_time.ToDatetime(tzinfo=UTC)
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and when > moment:
                return when
        return None

    when: datetime = await eventually(started, timeout=20, interval=0.1)
    return when


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def _replays(handle: WorkflowHandle) -> None:
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[ApprovalWorkflow], data_converter=data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, str(result.replay_failure)


async def _decide_during_the_read(
    client: Any, settings: Settings, platform: Any, way: str, timeout_seconds: float, late: bool
) -> tuple[ApprovalResult, DecisionVerdict | None, str, float]:
    """Start, send the decision while the first read is held, release the read after
    (``late``) or before the deadline; the result, the update's verdict, the approval id,
    and how far the release was from the next heartbeat (the scenario's margin)."""
    gate = asyncio.Event()
    platform.faults.read_gate = gate
    async with running_worker(client, _patient(settings)) as task_queue:
        began = time.monotonic()
        handle = await _start(client, task_queue, timeout_seconds)
        requested = await _requested(settings, handle.id)
        approval_id = requested["approval_id"]
        deadline = datetime.fromisoformat(requested["timestamp"]) + timedelta(
            seconds=timeout_seconds
        )
        sent_at = datetime.now(UTC)
        decision = Decision(approval_id=approval_id, approved=True, decided_by="alice")
        sending = asyncio.create_task(_send(handle, decision, way))
        delivered_at = await _task_started_after(handle, sent_at)
        release = deadline + timedelta(seconds=0.5) if late else delivered_at
        await _sleep_until(max(release, delivered_at) + timedelta(seconds=0.2))
        gate.set()
        margin = (delivered_at + timedelta(seconds=HEARTBEAT) - datetime.now(UTC)).total_seconds()
        verdict = await asyncio.wait_for(sending, 30)
        result: ApprovalResult = await asyncio.wait_for(handle.result(), 60)
        await _replays(handle)
    assert delivered_at < deadline, f"delivered after the deadline ({time.monotonic() - began})"
    return result, verdict, approval_id, margin


@pytest.mark.parametrize("way", ["signal", "update"])
async def test_a_decision_delivered_in_time_during_a_read_that_ends_late_is_late(
    dev_env, settings, platform, way
):
    """Delivered at ~3.2 s, before the 4 s deadline, by the task in which the held read
    ends at ~4.7 s: dated at the read's end, refused as late, timed out; it replays."""
    result, verdict, approval_id, margin = await _decide_during_the_read(
        dev_env.client, settings, platform, way, timeout_seconds=4, late=True
    )
    assert margin > 0, "the read was released after the next heartbeat: scenario not made"
    assert result.status is ApprovalStatus.TIMEOUT
    if verdict is not None:
        assert (verdict.outcome, verdict.reason) == (VerdictOutcome.REFUSED, "late")
    records = [r for r in audit_records(settings) if r.get("approval_id") == approval_id]
    assert [r.get("rejected_because") for r in records if r["outcome"] == "rejected"] == ["late"]
    assert [r["outcome"] for r in records if r["event_id"].endswith("/outcome")] == ["timeout"]


@pytest.mark.parametrize("way", ["signal", "update"])
async def test_a_decision_during_a_read_that_ends_in_time_is_taken(
    dev_env, settings, platform, way
):
    """The same, the read released at once, deadline at 20 s: taken; it replays."""
    result, verdict, approval_id, _ = await _decide_during_the_read(
        dev_env.client, settings, platform, way, timeout_seconds=20, late=False
    )
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    if verdict is not None:
        assert verdict.outcome is VerdictOutcome.TAKEN
    records = [r for r in audit_records(settings) if r.get("approval_id") == approval_id]
    assert [r["outcome"] for r in records if r["event_id"].endswith("/outcome")] == ["granted"]
