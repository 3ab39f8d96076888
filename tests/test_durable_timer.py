"""APPROVAL_TIMEOUT is a durable server-side timer (time-skipping test server).

A waiting approval runs no activity, so the test server can skip its time. The
workers here run the approval workflow and its short activities but no
workspace listener (a running activity would hold the clock still): only the
timer ends the wait. Creating and expiring the request go to the real platform.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from durable_approvals.activities.audit import AuditActivities
from durable_approvals.activities.platform_http import PlatformHttpActivities
from durable_approvals.activities.rbac import RbacActivities
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.audit_log import AuditLog
from durable_approvals.models import ApprovalState, ApprovalStatus
from durable_approvals.platform_client import PlatformError
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    approval_request,
    eventually,
    finish,
    outcomes,
    platform_client,
    start,
    wait_pending,
)

WEEK = 7 * 24 * 3600


def timer_only_worker(client, settings, http, task_queue):
    access = PlatformAccess(settings, http)
    platform_calls = PlatformHttpActivities(access)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ApprovalWorkflow],
        # No cache, so no sticky queue: a task left on a stopped worker's sticky
        # queue would hold the time-skipping server's clock still.
        max_cached_workflows=0,
        activities=[
            RbacActivities(settings).check_permission,
            platform_calls.create_approval,
            platform_calls.read_decision,
            platform_calls.expire_approval,
            platform_calls.record_decision,
            AuditActivities(AuditLog(settings.audit_log_path)).write_audit,
        ],
    )


async def test_timer_fires_after_a_week_and_expires_the_request(skipping_env, settings, platform):
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(
                skipping_env.client, task_queue, approval_request(timeout_seconds=WEEK)
            )
            result = await finish(handle, "timeout_after_a_week", timeout=60)
        approval_id = result.approval_id
        item = await api.get_approval(approval_id)
        try:
            await api.decide(approval_id, approved=True, decided_by="too-late")
        except PlatformError as error:
            late_status = error.status_code
        else:
            late_status = 200

    assert result.status is ApprovalStatus.TIMEOUT
    assert result.error == f"Timed out after {float(WEEK)}s waiting for human decision"
    history = await handle.fetch_history()
    started, closed = history.events[0].event_time, history.events[-1].event_time
    waited = closed.ToDatetime() - started.ToDatetime()
    assert timedelta(seconds=WEEK) <= waited < timedelta(seconds=WEEK + 3600)
    assert item is not None and item["status"] == "expired"
    assert late_status == 404  # a click after the expiry changes nothing
    assert outcomes(settings) == ["requested", "timeout"]
    assert (await handle.result()).status is ApprovalStatus.TIMEOUT


async def settled(handle, settings) -> None:
    """Wait until only the timer is left: anything outstanding without a worker would
    hold the test server's clock still."""

    async def only_timer_left() -> bool:
        view = await handle.query(ApprovalWorkflow.status)
        return view.state is ApprovalState.PENDING and outcomes(settings) == ["requested"]

    await eventually(only_timer_left)


async def test_timer_keeps_running_while_no_worker_runs(skipping_env, settings, platform):
    """Most of the hour passes with every worker down; the timer's remaining time is
    kept by the server, so the new worker sees it fire on schedule, not restarted.

    (The test server stops skipping time once a workflow task waits for a worker, so
    the no-worker stretch ends before the deadline; the dev-server test below lets the
    deadline itself pass with no worker.)"""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(
                skipping_env.client, task_queue, approval_request(timeout_seconds=3600)
            )
            await wait_pending(handle)
            await settled(handle, settings)
        await skipping_env.sleep(timedelta(minutes=50))  # every worker is down meanwhile
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            result = await finish(handle, "timeout_after_worker_gap", timeout=60)

    assert result.status is ApprovalStatus.TIMEOUT
    history = await handle.fetch_history()
    started, closed = history.events[0].event_time, history.events[-1].event_time
    waited = closed.ToDatetime() - started.ToDatetime()
    assert timedelta(hours=1) <= waited < timedelta(hours=1, minutes=10)
    assert outcomes(settings) == ["requested", "timeout"]


async def test_deadline_passes_while_no_worker_runs(dev_env, settings, platform):
    """Real clock, real dev server: the deadline passes while no worker exists; the next
    worker finds the timer fired, expires the request and reports the timeout."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
            approval_id = await wait_pending(handle)
        await eventually(lambda: timer_fired(handle))  # no worker: the deadline passes unobserved
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            result = await finish(handle, "deadline_passed_without_worker", timeout=60)
        item = await api.get_approval(approval_id)

    assert result.status is ApprovalStatus.TIMEOUT
    assert item is not None and item["status"] == "expired"
    assert outcomes(settings) == ["requested", "timeout"]


async def timer_fired(handle: WorkflowHandle[Any, Any]) -> bool:
    """The workflow's timer has fired (in its history: no worker needs to run for that)."""
    history = await handle.fetch_history()
    return any(event.HasField("timer_fired_event_attributes") for event in history.events)
