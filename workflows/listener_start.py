"""Starting the workspace listener idempotently, and keeping it started, from a worker."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from approvals.models import ListenerConfig
from workflows.listener import WorkspaceListenerWorkflow, listener_workflow_id

logger = logging.getLogger(__name__)


async def ensure_listener(client: Client, config: ListenerConfig, task_queue: str) -> str:
    """Start the workspace's listener workflow unless one runs; returns its workflow id.

    A running listener keeps the configuration it was started with.
    """
    workflow_id = listener_workflow_id(config.workspace_id, task_queue)
    await client.start_workflow(
        WorkspaceListenerWorkflow.run,
        config,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    return workflow_id


async def keep_listener(
    client: Client, config: ListenerConfig, task_queue: str, every: float = 30.0
) -> None:
    """Ensure the listener runs every ``every`` seconds (after a terminate, say); forever."""
    while True:
        await asyncio.sleep(every)
        try:
            await ensure_listener(client, config, task_queue)
        except RPCError as error:
            logger.warning("could not ensure the workspace listener runs: %s", error)
