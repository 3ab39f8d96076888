"""The listener learns a new approval's workflow from the platform's
``APPROVAL_REQUESTED`` event (upstream contract: its ``task_id``), so a decision on it
is signalled without an owner look-up in visibility, on both platform modes."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from durable_approvals.activities.messages import ListenerReport
from durable_approvals.models import ApprovalStatus, approval_workflow_id
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.listener import WorkspaceListenerWorkflow
from tests.helpers import (
    FAST_LISTENER,
    WORKSPACE,
    approval_request,
    eventually,
    finish,
    platform_client,
    running_worker,
    wait_pending,
)
from tests.test_listener import (
    _newer_session,
    listener_of,
    listening,
    socket_count,
    terminate_quietly,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

# No pass after the connect's first one: an owner known at the decision came from the event.
QUIET = dataclasses.replace(FAST_LISTENER, settle=600.0, reconcile_interval=600.0)


async def test_a_decision_on_a_new_approval_needs_no_owner_look_up(dev_env, settings, platform):
    settings = settings.model_copy(update={"listener_session_seconds": 8.0})
    client = dev_env.client
    async with running_worker(client, settings, tuning=QUIET) as task_queue:
        listener = listener_of(client, task_queue)
        try:
            # All of it within one fresh session: its report is the one to read.
            first = await eventually(lambda: listening(listener))
            await eventually(lambda: _newer_session(listener, first.activity_id), timeout=20)
            await eventually(lambda: socket_count(platform, 1))
            handle = await client.start_workflow(
                ApprovalWorkflow.run,
                approval_request(),
                id=approval_workflow_id(WORKSPACE, f"owners-{uuid.uuid4()}"),
                task_queue=task_queue,
            )
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="owner-test")
            result = await finish(handle, "decided_with_a_learned_owner")

            async def reported() -> ListenerReport | None:
                report = await listener.query(WorkspaceListenerWorkflow.last_session)
                return report if report is not None and report.signalled else None

            report = await eventually(reported, timeout=30)
        finally:
            await terminate_quietly(listener)

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "owner-test"
    assert report.owners_learned >= 1
    assert report.owner_lookups == 0
