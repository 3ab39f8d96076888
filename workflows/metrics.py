"""What ApprovalWorkflow reports when it ends: ``approvals_decisions`` and, for a human's
decision, ``approvals_decision_latency_seconds`` (durable_approvals/metrics.py).

Through ``workflow.metric_meter()``: no command, nothing in the history, and the
SDK records nothing while the workflow replays, so one approval counts once.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import durable_approvals.metrics as metrics
    from durable_approvals.models import ApprovalRequest, ApprovalStatus, Decision

DECIDED = (ApprovalStatus.GRANTED, ApprovalStatus.DENIED)


def approval_ended(
    request: ApprovalRequest, status: ApprovalStatus, decision: Decision | None
) -> None:
    """Count the approval's outcome; time it from the workflow's start when a human decided."""
    latency: float | None = None
    if decision is not None and status in DECIDED:
        latency = (workflow.now() - workflow.info().workflow_start_time).total_seconds()
    metrics.approval_ended(
        workflow.metric_meter(),
        workspace=request.workspace_id,
        outcome=status.value,
        source=decision.source.value if decision is not None else metrics.NO_SOURCE,
        latency_seconds=latency,
    )
