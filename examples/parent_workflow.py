from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from durable_approvals.models import ApprovalRequest
    from durable_approvals.workflows.child import request_approval_child


class Cleanup(BaseModel):
    request: ApprovalRequest  # built outside the workflow: Settings().approval_request(...)
    approvals_task_queue: str = "approvals"


@workflow.defn
class CleanupAgent:
    @workflow.run
    async def run(self, job: Cleanup) -> str:
        result = await request_approval_child(job.request, task_queue=job.approvals_task_queue)
        return "dropped" if result.approved else f"kept: {result.message or result.error}"
