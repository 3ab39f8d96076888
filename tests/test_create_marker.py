"""The create activity's ``task_id`` names its workflow, and a create retried by a run
whose first create was made with the marker alone still finds it (both platform modes:
strict has no Idempotency-Key, so only the marker can find the first request)."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from durable_approvals.activities.messages import CreateApprovalInput
from durable_approvals.activities.platform_http import PlatformHttpActivities, marked_task_id
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.models import approval_workflow_id
from tests.helpers import WORKSPACE, platform_client

pytestmark = pytest.mark.platform_modes("reference", "strict")


def _in_workflow(workflow_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id)
    return env


async def _create(settings, workflow_id: str, request: CreateApprovalInput) -> str:
    async with httpx.AsyncClient(timeout=5.0) as http:
        activities = PlatformHttpActivities(PlatformAccess(settings, http))
        created = await _in_workflow(workflow_id).run(activities.create_approval, request)
    return created.approval_id


async def test_the_task_id_names_the_workflow_and_a_retry_finds_the_request(settings):
    workflow_id = approval_workflow_id(WORKSPACE, f"marker-{uuid.uuid4()}")
    request = CreateApprovalInput(
        workspace_id=WORKSPACE,
        action="deploy",
        reason="marker",
        task_id="task-1",
        idempotency_key=f"{workflow_id}/run-{uuid.uuid4()}",
    )
    first = await _create(settings, workflow_id, request)
    again = await _create(settings, workflow_id, request.model_copy())
    async with platform_client(settings) as api:
        items = await api.list_approvals()
    ours = [item for item in items if item["id"] == first]
    assert again == first and len(ours) == 1
    assert ours[0]["task_id"] == marked_task_id("task-1", request.idempotency_key, workflow_id)
    assert ours[0]["task_id"].endswith(f"#{workflow_id}")


async def test_a_retry_finds_a_request_made_with_the_marker_alone(settings):
    workflow_id = approval_workflow_id(WORKSPACE, f"legacy-{uuid.uuid4()}")
    request = CreateApprovalInput(
        workspace_id=WORKSPACE,
        action="deploy",
        reason="made before the task id named its workflow",
        idempotency_key=f"{workflow_id}/run-{uuid.uuid4()}",
    )
    async with platform_client(settings) as api:
        legacy = await api.create_approval(
            request.action,
            request.reason,
            idempotency_key=str(uuid.uuid4()),  # not the run's: only the marker can find it
            task_id=marked_task_id(None, request.idempotency_key),
        )
    assert await _create(settings, workflow_id, request) == legacy
