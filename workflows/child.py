"""Approval as a child workflow, for agents that are themselves Temporal workflows.

Build the ``ApprovalRequest`` outside the workflow (settings come from the environment).
A request with ``args`` returns the approved (maybe edited) ``args``; check them in the
parent with ``result.covers(action, args)``, a pure function (docs/policies/edits.md).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from durable_approvals.models import ApprovalRequest, ApprovalResult, approval_workflow_id
    from durable_approvals.workflows.approval import ApprovalWorkflow


async def request_approval_child(
    request: ApprovalRequest, *, key: str | None = None, task_queue: str | None = None
) -> ApprovalResult:
    """Run ApprovalWorkflow as a child and return its result.

    Args:
        request: the approval's input.
        key: a stable child id part; default derived from the parent's id.
        task_queue: the approvals worker's queue; default the parent's.
    """
    suffix = key or f"{workflow.info().workflow_id}-{workflow.uuid4()}"
    return await workflow.execute_child_workflow(
        ApprovalWorkflow.run,
        request,
        id=approval_workflow_id(request.workspace_id, suffix),
        task_queue=task_queue or workflow.info().task_queue,
    )
