"""Today's workflow with one unrecorded change, for the replay guard's own tests.

Kept in its own module so that the workflow sandbox imports nothing else from tests.
"""

from __future__ import annotations

import time

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from durable_approvals.models import ApprovalRequest, ApprovalResult
    from durable_approvals.workflows.approval import ApprovalWorkflow


@workflow.defn(name="ApprovalWorkflow")
class ReorderedApprovalWorkflow(ApprovalWorkflow):
    """Sleeps before the RBAC check: a new first command that no history has."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        await workflow.sleep(1)
        return await super().run(request)


@workflow.defn(name="ApprovalWorkflow")
class ClockReadingApprovalWorkflow(ApprovalWorkflow):
    """Reads the machine's clock in its own module: the same commands, a restricted call."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        if time.time() < 0:  # never true: the read itself is the mutation
            await workflow.sleep(1)
        return await super().run(request)
