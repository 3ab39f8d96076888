"""The ``decide_update`` route: a decision sent to the waiting workflow, which answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from durable_approvals.deciding.errors import ApprovalClosedError, DecisionTimeoutError
from durable_approvals.deciding.verdicts import after_the_end, refused
from durable_approvals.errors import DECISION_REFUSED
from durable_approvals.models import DECIDE_UPDATE, ApprovalResult, Decision, DecisionVerdict

DECIDE_TIMEOUT_SECONDS = 30.0
"""How long a decision waits for a worker to answer the update before ``DecisionTimeoutError``."""
NOT_READY_ATTEMPTS = 3


async def offer_decision(
    handle: WorkflowHandle[Any, Any],
    decision: Decision,
    *,
    timeout: float = DECIDE_TIMEOUT_SECONDS,  # noqa: ASYNC109 - an RPC timeout, passed on
) -> DecisionVerdict:
    """Send ``decision`` to one approval workflow by the ``decide_update`` update and
    return its verdict (docs/deciding.md). Needs the workflow running and a worker.

    Raises:
        ApprovalClosedError: the workflow has ended.
        DecisionTimeoutError: no worker answered within ``timeout`` seconds.
    """
    for attempt in range(NOT_READY_ATTEMPTS):
        try:
            return await _update(handle, decision, timeout)
        except RPCError as error:
            # The workflow task that accepted it failed (an event arrived meanwhile): the
            # update was not accepted and nothing of it is in the history; send it again.
            not_ready = error.status is RPCStatusCode.FAILED_PRECONDITION and (
                "workflow task failure" in error.message
            )
            if not not_ready or attempt == NOT_READY_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def _update(
    handle: WorkflowHandle[Any, Any],
    decision: Decision,
    timeout: float,  # noqa: ASYNC109 - an RPC timeout, passed on
) -> DecisionVerdict:
    try:
        verdict: DecisionVerdict = await handle.execute_update(
            DECIDE_UPDATE,
            decision,
            result_type=DecisionVerdict,
            rpc_timeout=timedelta(seconds=timeout),
        )
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError) and cause.type == DECISION_REFUSED:
            details = cause.details[0] if cause.details else None
            if isinstance(details, dict):
                return DecisionVerdict.model_validate(details)
            return refused(decision.approval_id, cause.message)
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError as timed_out:
        raise DecisionTimeoutError(
            f"no worker answered the decision for {decision.approval_id} within {timeout:g}s "
            f"(workflow {handle.id}): is a worker running on its task queue?"
        ) from timed_out
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise ApprovalClosedError(
                f"approval {decision.approval_id} is closed: workflow {handle.id} has ended, "
                "a decision now is late"
            ) from error
        raise
    return verdict


async def ended_verdict(
    handle: WorkflowHandle[Any, ApprovalResult], decision: Decision
) -> DecisionVerdict:
    """The verdict on ``decision`` for a workflow that has ended: its result says whether
    it is the decision taken (repeated), another (conflicting), or none was (late)."""
    try:
        result: ApprovalResult | None = await handle.result(follow_runs=False)
    except WorkflowFailureError:  # failed, cancelled or terminated: nothing was decided
        result = None
    return after_the_end(result, decision)


async def send(
    handle: WorkflowHandle[Any, ApprovalResult],
    decision: Decision,
    *,
    timeout: float = DECIDE_TIMEOUT_SECONDS,  # noqa: ASYNC109 - an RPC timeout, passed on
) -> DecisionVerdict:
    """``offer_decision``, and the verdict of the ended workflow should it end meanwhile."""
    try:
        return await offer_decision(handle, decision, timeout=timeout)
    except ApprovalClosedError:
        return await ended_verdict(handle, decision)


__all__ = [
    "DECIDE_TIMEOUT_SECONDS",
    "ended_verdict",
    "offer_decision",
    "send",
]
