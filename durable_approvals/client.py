"""The agent-side API: ask for approval and wait durably for the answer.

The same ``key`` always means the same workflow, hence the same answer.
"""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from durable_approvals.connection import connect
from durable_approvals.deciding import (
    ApprovalClosedError,
    Decider,
    DecisionTimeoutError,
    UnknownApprovalError,
    offer_decision,
    running_workflow,
)
from durable_approvals.deciding.finding import VISIBILITY_WAIT_SECONDS
from durable_approvals.deciding.update_route import DECIDE_TIMEOUT_SECONDS
from durable_approvals.deciding.verdicts import LATE, UNKNOWN_APPROVAL
from durable_approvals.models import (
    APPROVAL_WORKFLOW,
    DECIDE_SIGNAL,
    STATUS_QUERY,
    ApprovalRequest,
    ApprovalResult,
    ApprovalStatusView,
    Ballot,
    Decision,
    DecisionSource,
    DecisionVerdict,
    approval_workflow_id,
    require_identifier,
)
from durable_approvals.platform_client import PlatformClient
from durable_approvals.settings import Settings

ApprovalHandle = WorkflowHandle[Any, ApprovalResult]
"""A handle on an approval workflow: ``await handle.result()`` is the answer."""


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
    handle = await running_workflow(
        client, settings.temporal_task_queue, settings.workspace_id, approval_id
    )
    return handle.id if handle is not None else None


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
    the ``decide`` signal: no answer (``decide`` sends the same by update and returns the
    verdict). For a request with args pass the ``action_hash`` approved (and
    ``edited_args``, never on a vote): ``durable_approvals.edits.bound_decision`` builds both.

    Returns:
        The workflow id it went to.

    Raises:
        LookupError: no running workflow waits for ``approval_id``.
        pydantic.ValidationError: a bad name, comment, hash or args.
    """
    decision = Decision(
        approval_id=approval_id,
        approved=approved,
        decided_by=decided_by,
        comment=comment,
        source=DecisionSource.CLIENT,
        action_hash=action_hash,
        edited_args=edited_args,
    )
    workflow_id = await waiting_workflow(client, settings, approval_id)
    if workflow_id is None:
        raise LookupError(f"no running approval workflow waits for {approval_id}")
    await client.get_workflow_handle(workflow_id).signal(DECIDE_SIGNAL, decision)
    return workflow_id


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
    ballot: Ballot | None = None,
    platform: PlatformClient | None = None,
) -> DecisionVerdict:
    """Decide (or vote on) ``approval_id`` and return the verdict (docs/deciding.md), through
    ``durable_approvals.deciding.Decider``: by the waiting workflow's ``decide_update``
    update, or with a ``platform`` the route ``approvals decide`` takes (the platform's
    decide where it answers for the workflow). For a request with args pass the
    ``action_hash`` approved, or ``bind_to_request``: the decision then names the hash of
    the args the workflow (or the platform's item) reports. ``ballot``, when given, is the
    whole decision (the keyword fields are then ignored).

    Returns:
        The verdict: taken, counted, repeated, or refused with the workflow's reason;
        for a workflow that has ended, ``repeated`` (its decision again), ``conflicting``
        or ``late``; ``unknown approval`` when no workflow of this deployment (task queue
        and workspace) has that approval id within ``visibility_wait`` seconds.

    Raises:
        DecisionTimeoutError: no worker answered within ``timeout`` seconds.
        UnknownApprovalError: ``platform``'s route knows no such approval.
        PlatformError: ``platform`` failed (unreachable, 401, a bad request).
        pydantic.ValidationError: a bad id, name, comment, hash or args.
    """
    if ballot is None:
        ballot = Ballot(
            approval_id=approval_id,
            approved=approved,
            decided_by=decided_by,
            comment=comment,
            action_hash=action_hash,
            edited_args=edited_args,
            bind_to_request=bind_to_request,
        )
    decider = Decider.with_client(
        client, settings, platform=platform, timeout=timeout, visibility_wait=visibility_wait
    )
    return await decider.decide(ballot)


__all__ = [
    "DECIDE_TIMEOUT_SECONDS",
    "LATE",
    "UNKNOWN_APPROVAL",
    "VISIBILITY_WAIT_SECONDS",
    "ApprovalClosedError",
    "ApprovalHandle",
    "DecisionTimeoutError",
    "UnknownApprovalError",
    "approval_status",
    "build_request",
    "decide",
    "offer_decision",
    "request_approval",
    "send_decision",
    "start_approval",
    "waiting_workflow",
    "workflow_id_for",
]
