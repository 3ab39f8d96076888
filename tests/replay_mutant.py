"""Today's workflow with one unpatched change each, for the replay guard's own tests.

Kept in its own module so that the workflow sandbox imports nothing else from tests.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from approvals.identity import SELF_APPROVAL, is_self_decision
    from approvals.models import ApprovalRequest, ApprovalResult, Decision
    from workflows.approval import ApprovalWorkflow


@workflow.defn(name="ApprovalWorkflow")
class ReorderedApprovalWorkflow(ApprovalWorkflow):
    """Sleeps before the RBAC check: a new first command that no history has."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        await workflow.sleep(1)
        return await super().run(request)


@workflow.defn(name="ApprovalWorkflow")
class UnguardedSelfApprovalWorkflow(ApprovalWorkflow):
    """Refuses a self-approval without asking ``workflow.patched``: what the patch prevents."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        return await super().run(request)

    def _refused_as_self_approval(self, decision: Decision) -> bool:
        if not is_self_decision(self._request.requester, decision.decided_by):
            return False
        self._rejected.append((decision, SELF_APPROVAL))
        return True


@workflow.defn(name="ApprovalWorkflow")
class UnguardedCancelDuringCreateWorkflow(ApprovalWorkflow):
    """Shields the create without asking ``workflow.patched``: what that patch prevents."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        return await super().run(request)

    def _create_is_shielded(self) -> bool:
        return True


@workflow.defn(name="ApprovalWorkflow")
class UnguardedClientDecisionWorkflow(ApprovalWorkflow):
    """Writes a signalled decision to the platform without asking ``workflow.patched``."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        return await super().run(request)

    def _records_client_decisions(self) -> bool:
        return True


@workflow.defn(name="ApprovalWorkflow")
class UnguardedNoFallbackWorkflow(ApprovalWorkflow):
    """Skips the poller after the wait ends without asking ``workflow.patched``."""

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        return await super().run(request)

    def _waits_no_more_once_closed(self) -> bool:
        return True
