"""Decisions that reach the listener after their approval's workflow has finished:
audited once as ``rejected`` (``rejected_because: "late"``), unless they are its outcome."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from durable_approvals.audit_log import AuditLog
from durable_approvals.models import (
    ApprovalRequest,
    ApprovalResult,
    AuditEntry,
    AuditOutcome,
    Decision,
)

logger = logging.getLogger(__name__)


class LateDecisionAudit:
    """Writes late decisions to the audit trail, looking the finished run up in Temporal."""

    def __init__(self, client: Client, audit_log: AuditLog) -> None:
        self._client = client
        self._audit_log = audit_log

    async def record(self, decision: Decision, workflow_id: str, run_id: str) -> bool:
        """Audit ``decision`` as late for the finished run; True if a record was written.

        Raises:
            RPCError: Temporal could not be read.
            LookupError: the run's history holds no input.
        """
        handle = self._client.get_workflow_handle(
            workflow_id, run_id=run_id, result_type=ApprovalResult
        )
        request = await _request_of(handle, self._client.data_converter)
        try:
            result: ApprovalResult | None = await handle.result()
        except (WorkflowFailureError, RPCError):
            result = None  # cancelled or failed: whatever it decided, this one is late
        if result is not None and _is_its_outcome(result, decision):
            return False
        answer = "approved" if decision.approved else "denied"
        entry = AuditEntry(
            event_id=f"{workflow_id}/{run_id}/late-{answer}-{decision.decided_by}",
            timestamp=decision.decided_at or _now(),
            event_type="approval",
            workspace_id=request.workspace_id,
            actor=decision.decided_by,
            action="approve",
            resource=request.action,
            outcome=AuditOutcome.REJECTED,
            trace_id=(result.trace_id if result else None) or request.trace_id or workflow_id,
            extra={
                "approval_id": decision.approval_id,
                "decided_by": decision.decided_by,
                "decision": answer,
                "rejected_because": "late",
                "via": decision.source.value,
            },
        )
        written = await asyncio.to_thread(self._audit_log.append, entry)
        if written:
            logger.warning(
                "approval %s was decided (%s by %s) after its workflow ended: audited as late",
                decision.approval_id,
                answer,
                decision.decided_by,
            )
        return written


async def _request_of(
    handle: WorkflowHandle[Any, ApprovalResult], converter: DataConverter
) -> ApprovalRequest:
    """The run's input, from the first event of its history."""
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        [request] = await converter.decode(started.input.payloads, [ApprovalRequest])
        if isinstance(request, ApprovalRequest):
            return request
        break
    raise LookupError(f"no input in the history of {handle.id}/{handle.run_id}")


def _is_its_outcome(result: ApprovalResult, decision: Decision) -> bool:
    if result.approval_id != decision.approval_id or result.status.value not in (
        "granted",
        "denied",
    ):
        return False
    if decision.approved and decision.decided_by in (result.approvers or []):
        return True  # a vote that counted (N-of-M)
    return result.decided_by == decision.decided_by and result.approved == decision.approved


def _now() -> datetime:
    return datetime.now(UTC)
