"""Starting approvals and watching them, as an agent and an approver would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowHandle

from approvals.models import ApprovalRequest, ApprovalResult, ApprovalState, WebSocketMode
from bench.processes import TASK_QUEUE, WORKSPACE, Stack
from workflows.approval import ApprovalWorkflow

T = TypeVar("T")
Handle = WorkflowHandle[ApprovalWorkflow, ApprovalResult]
STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


def request(
    *,
    timeout: float = 3600,
    websocket: WebSocketMode = WebSocketMode.AUTO,
    poll_interval: float = 1.0,
    heartbeat_timeout: float = 30.0,
) -> ApprovalRequest:
    return ApprovalRequest(
        workspace_id=WORKSPACE,
        action="benchmark action",
        reason="measuring",
        timeout_seconds=timeout,
        poll_interval_seconds=poll_interval,
        websocket=websocket,
        heartbeat_timeout_seconds=heartbeat_timeout,
    )


async def bounded(
    items: Sequence[Any], work: Callable[[Any], Awaitable[T]], concurrency: int = 64
) -> list[T]:
    limit = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> T:
        async with limit:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def start(stack: Stack, approval: ApprovalRequest) -> Handle:
    return await stack.client.start_workflow(
        ApprovalWorkflow.run, approval, id=f"bench-{uuid.uuid4()}", task_queue=TASK_QUEUE
    )


async def wait_pending(handle: Handle, limit: float = 300) -> str:
    """The approval id once the request exists on the platform ("waiting")."""
    async with asyncio.timeout(limit):
        while True:
            view = await handle.query(ApprovalWorkflow.status)
            if view.state is ApprovalState.PENDING and view.approval_id:
                return view.approval_id
            await asyncio.sleep(0.05)


async def wait_listening(handle: Handle, limit: float = 600) -> None:
    """Until the handle's waiting activity (listener or poller) has started on a worker."""
    async with asyncio.timeout(limit):
        while True:
            pending = (await handle.describe()).raw_description.pending_activities
            if any(
                a.state == STARTED
                and a.activity_type.name in ("listen_for_decision", "poll_for_decision")
                for a in pending
            ):
                return
            await asyncio.sleep(0.2)
