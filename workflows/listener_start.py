"""Starting the workspace listener idempotently, and keeping it started, from a worker."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from durable_approvals.activities.messages import ListenerConfig
from durable_approvals.settings import Settings
from durable_approvals.workflows.listener import WorkspaceListenerWorkflow, listener_workflow_id

logger = logging.getLogger(__name__)


def listener_config(settings: Settings) -> ListenerConfig:
    """The workspace listener's input, from APPROVAL_USE_WEBSOCKET and co."""
    return ListenerConfig(
        workspace_id=settings.workspace_id,
        websocket=settings.approval_use_websocket,
        poll_interval_seconds=settings.approval_poll_interval,
        heartbeat_timeout_seconds=settings.approval_heartbeat_timeout,
        session_seconds=settings.listener_session_seconds,
    )


async def ensure_listener(
    client: Client, config: ListenerConfig, task_queue: str, *, reconfigure: bool = False
) -> str:
    """Start the workspace's listener workflow unless one runs; returns its workflow id.

    With ``reconfigure``, a running listener is sent ``config`` (a no-op if unchanged).
    """
    workflow_id = listener_workflow_id(config.workspace_id, task_queue)
    handle = await client.start_workflow(
        WorkspaceListenerWorkflow.run,
        config,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    if reconfigure:
        await handle.signal(WorkspaceListenerWorkflow.reconfigure, config)
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
