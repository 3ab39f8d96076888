"""A parent workflow for tests/test_edits.py: asks with args through the child workflow
and checks them in workflow code (``covers`` is a pure function: fine in a workflow)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from durable_approvals.workflows.child import request_approval_child
    from examples.parent_workflow import Cleanup


@workflow.defn
class EditingAgent:
    @workflow.run
    async def run(self, job: Cleanup) -> list[Any]:
        result = await request_approval_child(job.request, task_queue=job.approvals_task_queue)
        request = job.request
        return [
            result.args,
            result.covers(request.action, result.args),
            result.covers(request.action, request.args),
        ]
