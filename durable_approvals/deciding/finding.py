"""Finding the approval workflow of an approval id, through Temporal visibility."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle

from durable_approvals import search_attributes
from durable_approvals.models import ApprovalResult, require_identifier

VISIBILITY_WAIT_SECONDS = 5.0
"""How long a decision looks for the workflow of an approval id (visibility lags a little)."""
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class FoundWorkflow:
    """The approval workflow of an approval id: still ``running`` (waiting), or ended."""

    handle: WorkflowHandle[Any, ApprovalResult]
    running: bool


async def _first(client: Client, query: str) -> WorkflowHandle[Any, ApprovalResult] | None:
    async for execution in client.list_workflows(query, limit=1):
        return client.get_workflow_handle(
            execution.id, run_id=execution.run_id, result_type=ApprovalResult
        )
    return None


async def running_workflow(
    client: Client, task_queue: str, workspace_id: str, approval_id: str
) -> WorkflowHandle[Any, ApprovalResult] | None:
    """The running workflow that waits for ``approval_id`` in this deployment (task queue
    and workspace), if visibility has it."""
    require_identifier(approval_id, "approval id")
    return await _first(
        client, search_attributes.owner_query(task_queue, workspace_id, approval_id)
    )


async def find_workflow(
    client: Client,
    task_queue: str,
    workspace_id: str,
    approval_id: str,
    *,
    wait: float = VISIBILITY_WAIT_SECONDS,
) -> FoundWorkflow | None:
    """The workflow of ``approval_id``: the running one, else the one that ended; ``None``
    when visibility shows neither within ``wait`` seconds (a new workflow shows up late)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait
    while True:
        handle = await running_workflow(client, task_queue, workspace_id, approval_id)
        if handle is not None:
            return FoundWorkflow(handle, running=True)
        query = search_attributes.closed_owner_query(task_queue, workspace_id, approval_id)
        ended = await _first(client, query)
        if ended is not None:
            return FoundWorkflow(ended, running=False)
        if loop.time() >= give_up:
            return None
        await asyncio.sleep(POLL_SECONDS)


__all__ = ["VISIBILITY_WAIT_SECONDS", "FoundWorkflow", "find_workflow", "running_workflow"]
