"""The agent-side API: ask for approval and wait durably for the answer.

The same ``key`` always means the same workflow, hence the same answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from durable_approvals import search_attributes
from durable_approvals.action_hash import action_hash as hash_of
from durable_approvals.connection import connect
from durable_approvals.errors import DECISION_REFUSED
from durable_approvals.models import (
    APPROVAL_WORKFLOW,
    DECIDE_SIGNAL,
    DECIDE_UPDATE,
    STATUS_QUERY,
    ApprovalRequest,
    ApprovalResult,
    ApprovalStatusView,
    Decision,
    DecisionSource,
    DecisionVerdict,
    VerdictOutcome,
    approval_workflow_id,
    require_identifier,
)
from durable_approvals.settings import Settings

ApprovalHandle = WorkflowHandle[Any, ApprovalResult]
"""A handle on an approval workflow: ``await handle.result()`` is the answer."""

DECIDE_TIMEOUT_SECONDS = 30.0
"""How long ``decide`` waits for a worker to answer the update before ``DecisionTimeoutError``."""
VISIBILITY_WAIT_SECONDS = 5.0
"""How long ``decide`` looks for the workflow of an approval id (visibility lags a little)."""
NOT_READY_ATTEMPTS = 3
UNKNOWN_APPROVAL = "unknown approval"
LATE = "late"
"""Reasons as the workflow's rules name them (workflows/decision_rules.py)."""


class ApprovalClosedError(LookupError):
    """The approval's workflow has ended (decided, timed out, cancelled): a decision now is
    late, and no update can reach it."""


class DecisionTimeoutError(TimeoutError):
    """No worker answered the decide update in time (none runs on the task queue, or it is
    stuck). The decision was not taken by then; the server may still hand it to a worker
    that comes back while it keeps the request (check with ``approvals show``)."""


def workflow_id_for(workspace_id: str, key: str | None = None) -> str:
    """The approval workflow's id, ``approval-{workspace}-{key}``; a fresh uuid without ``key``.

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
    timeout: float | None = None,
    **overrides: Any,
) -> ApprovalRequest:
    """The validated workflow input: ``settings``' defaults, ``timeout`` and ``overrides``.

    Raises:
        pydantic.ValidationError: bad input, before anything is sent anywhere.
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
    """Start the approval workflow, or attach to the one ``key`` names, without waiting.

    Args and Raises: as ``request_approval`` (``client`` and ``settings`` required).

    Returns:
        The handle; an open or finished run with the same id is returned, not restarted.
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

    Args:
        action: what the agent wants to do (1-500 characters).
        reason: why (up to 4,000 characters).
        key: makes the call idempotent across restarts: same key, same answer.
        timeout: seconds to wait for a decision; default APPROVAL_TIMEOUT.
        settings: default ``Settings()`` (the environment).
        client: default one connected from ``settings``.
        **overrides: other ``ApprovalRequest`` fields (``requester``, ``task_id``...),
            among them the escalation and reminder policy (``remind_every``,
            ``escalate_after``, ``escalate_to``, ``on_timeout``, ``escalation_timeout``:
            docs/policies/escalation.md).

    Returns:
        The outcome: ``status`` is granted, denied, timeout, failure or rbac_denied.

    Raises:
        pydantic.ValidationError: bad input, before anything starts.
        temporalio.client.WorkflowFailureError: the workflow failed or was cancelled.
    """
    settings = settings or Settings()
    client = client or await connect(settings)
    handle = await start_approval(
        client, settings, action, reason, key=key, timeout=timeout, **overrides
    )
    return await handle.result()


async def waiting_workflow(client: Client, settings: Settings, approval_id: str) -> str | None:
    """The id of the running approval workflow that waits for ``approval_id`` in this
    deployment (its task queue and workspace), found through Temporal visibility."""
    require_identifier(approval_id, "approval id")
    query = search_attributes.owner_query(
        settings.temporal_task_queue, settings.workspace_id, approval_id
    )
    async for execution in client.list_workflows(query, limit=1):
        return execution.id
    return None


async def approval_status(client: Client, workflow_id: str) -> ApprovalStatusView:
    """The ``status`` query of one approval workflow: state, votes, the policy."""
    view: ApprovalStatusView = await client.get_workflow_handle(workflow_id).query(
        STATUS_QUERY, result_type=ApprovalStatusView
    )
    return view


async def send_decision(
    client: Client,
    settings: Settings,
    approval_id: str,
    *,
    approved: bool,
    decided_by: str,
    comment: str | None = None,
    action_hash: str | None = None,
    edited_args: dict[str, Any] | None = None,
) -> str:
    """Offer a decision (a vote, where the request counts votes) to the waiting workflow by
    the ``decide`` signal: the path votes take where the platform keeps one decision per
    approval (docs/policies/n-of-m.md). The workflow records the outcome on the platform.
    A signal gets no answer: ``decide`` sends the same by update and returns the verdict.
    For a request with args pass the ``action_hash`` approved (and ``edited_args``, never
    on a vote), as for ``decide``: ``approvals.edits.bound_decision`` builds both.

    Returns:
        The workflow id it went to.

    Raises:
        LookupError: no running workflow waits for ``approval_id``.
        pydantic.ValidationError: a bad name, comment, hash or args.
    """
    decision = _client_decision(
        approval_id, approved, decided_by, comment, action_hash, edited_args
    )
    workflow_id = await waiting_workflow(client, settings, approval_id)
    if workflow_id is None:
        raise LookupError(f"no running approval workflow waits for {approval_id}")
    await client.get_workflow_handle(workflow_id).signal(DECIDE_SIGNAL, decision)
    return workflow_id


def _client_decision(
    approval_id: str,
    approved: bool,
    decided_by: str,
    comment: str | None,
    action_hash: str | None,
    edited_args: dict[str, Any] | None,
) -> Decision:
    """A decision a client sends (signal or update); validated by the model."""
    return Decision(
        approval_id=approval_id,
        approved=approved,
        decided_by=decided_by,
        comment=comment,
        source=DecisionSource.CLIENT,
        action_hash=action_hash,
        edited_args=edited_args,
    )


def _refused(approval_id: str, reason: str) -> DecisionVerdict:
    return DecisionVerdict(
        approval_id=approval_id, accepted=False, outcome=VerdictOutcome.REFUSED, reason=reason
    )


async def _closed_workflow(client: Client, settings: Settings, approval_id: str) -> str | None:
    """How the finished workflow of ``approval_id`` ended (its status name), if it exists."""
    query = search_attributes.closed_owner_query(
        settings.temporal_task_queue, settings.workspace_id, approval_id
    )
    async for execution in client.list_workflows(query, limit=1):
        return execution.status.name if execution.status else "CLOSED"
    return None


async def offer_decision(
    handle: WorkflowHandle[Any, Any],
    decision: Decision,
    *,
    timeout: float = DECIDE_TIMEOUT_SECONDS,  # noqa: ASYNC109 - an RPC timeout, passed on
) -> DecisionVerdict:
    """Send ``decision`` to one approval workflow by the ``decide_update`` update and
    return its verdict (docs/deciding.md). Needs the workflow running and a worker.

    Returns:
        taken, counted, repeated, or refused with the reason (the validator's refusal
        leaves nothing in the workflow's history).

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
            return _refused(decision.approval_id, cause.message)
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


async def decide(
    client: Client,
    settings: Settings,
    approval_id: str,
    *,
    approved: bool,
    decided_by: str,
    comment: str | None = None,
    action_hash: str | None = None,
    edited_args: dict[str, Any] | None = None,
    timeout: float = DECIDE_TIMEOUT_SECONDS,  # noqa: ASYNC109 - an RPC timeout, passed on
    visibility_wait: float = VISIBILITY_WAIT_SECONDS,
    bind_to_request: bool = False,
    attest: Callable[[Decision], Decision] | None = None,
) -> DecisionVerdict:
    """Decide (or vote on) ``approval_id`` through its waiting workflow's ``decide_update``
    update and return the verdict synchronously (docs/deciding.md). For a request with args
    pass the ``action_hash`` approved (``approvals.edits.bound_decision`` builds both), or
    ``bind_to_request``: without a hash or edits, the decision names the hash of the args
    the workflow's status query reports (a vote as asked, unedited). ``attest`` completes
    the final decision before it is sent (the channel endpoint names the channel and signs
    it: docs/channels.md).

    Returns:
        The verdict; ``unknown approval`` when no workflow of this deployment (task queue
        and workspace) has that approval id within ``visibility_wait`` seconds.

    Raises:
        ApprovalClosedError: its workflow has ended (a decision now is late).
        DecisionTimeoutError: no worker answered within ``timeout`` seconds.
        pydantic.ValidationError: a bad id, name, comment, hash or args.
    """
    decision = _client_decision(
        approval_id, approved, decided_by, comment, action_hash, edited_args
    )
    loop = asyncio.get_running_loop()
    give_up = loop.time() + visibility_wait
    while True:
        workflow_id = await waiting_workflow(client, settings, approval_id)
        if workflow_id is not None:
            if bind_to_request and action_hash is None and edited_args is None:
                view = await approval_status(client, workflow_id)
                if view.args is not None:
                    bound = hash_of(settings.workspace_id, view.action or "", view.args)
                    decision = decision.model_copy(update={"action_hash": bound})
            if attest is not None:
                decision = attest(decision)
            return await offer_decision(
                client.get_workflow_handle(workflow_id), decision, timeout=timeout
            )
        ended = await _closed_workflow(client, settings, approval_id)
        if ended is not None:
            raise ApprovalClosedError(
                f"approval {approval_id} is closed: its workflow has ended ({ended}), "
                "a decision now is late"
            )
        if loop.time() >= give_up:
            return _refused(approval_id, UNKNOWN_APPROVAL)
        await asyncio.sleep(0.5)
