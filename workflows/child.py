"""Approval as a child workflow, for agents that are themselves Temporal workflows.

A workflow cannot call ``request_approval`` (it connects a client: I/O), and
should not: a child workflow is durable with its parent, shows up in the
parent's history, and is cancelled (so the request expires) when the parent is.
Build the ApprovalRequest in the parent's input, outside the workflow, since
settings come from the environment.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from approvals.models import ApprovalRequest, ApprovalResult, approval_workflow_id
    from workflows.approval import ApprovalWorkflow


async def request_approval_child(
    request: ApprovalRequest, *, key: str | None = None, task_queue: str | None = None
) -> ApprovalResult:
    """Run ApprovalWorkflow as a child and return its result.

    ``key`` gives a stable child id (``approval-{workspace}-{key}``), else one is
    derived deterministically from the parent's id. ``task_queue`` is where the
    approvals worker listens (default: the parent's queue).
    """
    suffix = key or f"{workflow.info().workflow_id}-{workflow.uuid4()}"
    return await workflow.execute_child_workflow(
        ApprovalWorkflow.run,
        request,
        id=approval_workflow_id(request.workspace_id, suffix),
        task_queue=task_queue or workflow.info().task_queue,
    )
