"""Policies combined (docs/policies/README.md), end to end on both platform modes: votes
counted before an escalation still count after it, the args' hash binds a decision
made after an escalation, and votes bound to the args count across one."""

from __future__ import annotations

import pytest

from durable_approvals.action_hash import action_hash
from durable_approvals.client import send_decision
from durable_approvals.edits import bound_decision
from durable_approvals.models import DECIDE_SIGNAL, ApprovalStatus
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    finish,
    running_worker,
    start,
    wait_pending,
)
from tests.test_n_of_m import REQUESTER, cast, view, votes_counted
from tests.test_votes_hash import vote

pytestmark = pytest.mark.platform_modes("reference", "strict")

LEADS = "oncall-leads"


async def escalated(handle) -> bool:
    return (await view(handle)).escalations >= 1


async def test_votes_before_an_escalation_still_count_after_it(dev_env, settings, platform):
    request = approval_request(
        requester=REQUESTER,
        approvals_required=2,
        timeout_seconds=120,
        escalate_after=2,
        escalate_to=LEADS,
    )
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        await cast(platform, settings, dev_env.client, approval_id, "alice", counted=1)
        await eventually(lambda: escalated(handle))
        await cast(platform, settings, dev_env.client, approval_id, "bob")
        result = await finish(handle, "votes_across_an_escalation")

    assert result.status is ApprovalStatus.GRANTED
    assert (result.approvers, result.escalated_to) == (["alice", "bob"], LEADS)
    outcomes = [r["outcome"] for r in audit_records(settings)]
    assert outcomes == ["requested", "voted", "escalated", "voted", "granted"]


async def test_the_hash_binds_a_decision_made_after_an_escalation(dev_env, settings, platform):
    args = {"db": "staging", "dry_run": False}
    request = approval_request(
        action="Drop the staging database",
        args=args,
        timeout_seconds=120,
        escalate_after=1,
        escalate_to=LEADS,
    )
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        await eventually(lambda: escalated(handle))
        wrong = bound_decision(
            workspace_id=request.workspace_id,
            action=request.action,
            args={**args, "db": "prod"},
            approval_id=approval_id,
            approved=True,
            decided_by="mallory",
            comment=None,
            edit=None,
        )
        await handle.signal(DECIDE_SIGNAL, wrong)  # another hash: refused, still pending

        async def refused() -> bool:  # audited before the next decision is sent (one order)
            return "rejected" in [r["outcome"] for r in audit_records(settings)]

        await eventually(refused)
        right = bound_decision(
            workspace_id=request.workspace_id,
            action=request.action,
            args=args,
            approval_id=approval_id,
            approved=True,
            decided_by="bob",
            comment=None,
            edit={"dry_run": True},
        )
        await handle.signal(DECIDE_SIGNAL, right)
        result = await finish(handle, "hash_after_an_escalation")

    edited = {**args, "dry_run": True}
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "bob"
    assert result.escalated_to == LEADS and result.args == edited
    assert result.action_hash == action_hash(request.workspace_id, request.action, edited)
    assert result.covers(request.action, edited) and not result.covers(request.action, args)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "escalated", "rejected", "granted"]
    assert records[2]["rejected_because"] == "hash-mismatch"


async def test_votes_bound_to_the_args_count_across_an_escalation(dev_env, settings, platform):
    """All three policies: two votes that name the args' hash, one before and one after
    the escalation, grant; a vote for other args after it is refused and not counted."""
    args = {"db": "staging", "dry_run": False}
    request = approval_request(
        action="Drop the staging database",
        args=args,
        requester=REQUESTER,
        approvals_required=2,
        timeout_seconds=120,
        escalate_after=2,
        escalate_to=LEADS,
    )
    right = request.action_hash()
    wrong = action_hash(request.workspace_id, request.action, {**args, "db": "prod"})
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        await vote(platform, settings, dev_env.client, approval_id, "alice", action_hash=right)
        await votes_counted(handle, 1)
        await eventually(lambda: escalated(handle))
        await send_decision(
            dev_env.client,
            settings,
            approval_id,
            approved=True,
            decided_by="carol",
            action_hash=wrong,
        )

        async def refused() -> bool:
            return "rejected" in [r["outcome"] for r in audit_records(settings)]

        await eventually(refused)
        await vote(platform, settings, dev_env.client, approval_id, "bob", action_hash=right)
        result = await finish(handle, "votes_args_across_an_escalation")

    assert result.status is ApprovalStatus.GRANTED
    assert (result.approvers, result.escalated_to) == (["alice", "bob"], LEADS)
    assert result.covers(request.action, args)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == [
        "requested",
        "voted",
        "escalated",
        "rejected",
        "voted",
        "granted",
    ]
    assert records[3]["rejected_because"] == "hash-mismatch"
