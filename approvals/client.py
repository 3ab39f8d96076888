"""The agent-side API: ask for approval and wait durably for the answer.

``request_approval`` starts an ApprovalWorkflow and waits for its result. The
workflow id is derived from the caller's ``key``, so asking again with the same
key (after the agent process restarted, or concurrently) attaches to the same
workflow and gets the same answer: the platform only ever sees one request.
"""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from approvals.connection import connect
from approvals.models import (
    APPROVAL_WORKFLOW,
    ApprovalRequest,
    ApprovalResult,
    approval_workflow_id,
    require_identifier,
)
from approvals.settings import Settings

ApprovalHandle = WorkflowHandle[Any, ApprovalResult]
"""A handle on an approval workflow: ``await handle.result()`` is the answer."""


def workflow_id_for(workspace_id: str, key: str | None = None) -> str:
    """The approval workflow's id: ``approval-{workspace}-{key}``.

    Args:
        workspace_id: an ``Identifier``.
        key: the caller's idempotency key; without one a fresh uuid (no attaching).

    Raises:
        ValueError: ``workspace_id`` is not an ``Identifier``.
    """
    require_identifier(workspace_id, "workspace id")
    return approval_workflow_id(workspace_id, key or str(uuid.uuid4()))


def build_request(
    settings: Settings,
    action: str,
    reason: str,
    *,
    timeout: float | None = None,  # seconds the approval may wait
    **overrides: Any,
) -> ApprovalRequest:
    """The validated workflow input: settings' defaults, ``timeout`` and ``overrides`` applied.

    Raises:
        pydantic.ValidationError: bad input (empty action, timeout out of
            range...), before anything is sent anywhere.
    """
    if timeout is not None:
        overrides["timeout_seconds"] = timeout
    return settings.approval_request(action, reason, **overrides)


async def start_approval(
    client: Client,
    settings: Settings,
    action: str,
    reason: str,
    *,
    key: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the approval deadline, not a call timeout
    **overrides: Any,
) -> ApprovalHandle:
    """Start (or attach to) the approval workflow and return its handle without waiting.

    Open run with the same id: ``USE_EXISTING`` attaches to it. Closed run with
    the same id: ``REJECT_DUPLICATE`` refuses a second run, and we return the
    existing one's handle so its recorded result is the answer.
    """
    request = build_request(settings, action, reason, timeout=timeout, **overrides)
    workflow_id = workflow_id_for(request.workspace_id, key)
    try:
        return await client.start_workflow(
            APPROVAL_WORKFLOW,
            request,
            result_type=ApprovalResult,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id, result_type=ApprovalResult)


async def request_approval(
    action: str,
    reason: str,
    *,
    key: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the approval deadline, not a call timeout
    settings: Settings | None = None,
    client: Client | None = None,
    **overrides: Any,
) -> ApprovalResult:
    """Ask a human to approve ``action`` and wait for the answer.

    ``key`` makes the call idempotent across restarts (same key, same answer);
    ``timeout`` overrides APPROVAL_TIMEOUT in seconds; other keyword arguments
    override ApprovalRequest fields (``task_id``, ``trace_id``...). Settings
    come from the environment unless given; the client is built from them.
    """
    settings = settings or Settings()
    client = client or await connect(settings)
    handle = await start_approval(
        client, settings, action, reason, key=key, timeout=timeout, **overrides
    )
    return await handle.result()
