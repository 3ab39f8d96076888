"""Args binding on the time-skipping server (docs/policies/edits.md): a decision for
another hash does not end a week-long wait, and the matching one, with edits, does.

The worker runs no workspace listener (a running activity would hold the clock still);
decisions come as signals, creating and expiring go to the real platform.
"""

from __future__ import annotations

import uuid

from durable_approvals.action_hash import action_hash
from durable_approvals.edits import bound_decision
from durable_approvals.models import ApprovalStatus, Decision
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    finish,
    platform_client,
    start,
    wait_pending,
)
from tests.test_durable_timer import WEEK, timer_only_worker

ACTION = "Rotate the database password"
ARGS = {"db": "orders", "dry_run": False}


def _request():
    return approval_request(action=ACTION, args=ARGS, timeout_seconds=WEEK)


async def test_a_mismatch_does_not_end_a_week_long_wait(skipping_env, settings, platform):
    task_queue = f"tq-{uuid.uuid4()}"
    async with (
        platform_client(settings) as api,
        timer_only_worker(skipping_env.client, settings, api.http, task_queue),
    ):
        handle = await start(skipping_env.client, task_queue, _request())
        approval_id = await wait_pending(handle)
        other = action_hash(WORKSPACE, ACTION, {**ARGS, "db": "users"})
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="bob", action_hash=other),
        )
        result = await finish(handle, "edits_mismatch_then_timeout", timeout=60)

    assert result.status is ApprovalStatus.TIMEOUT
    assert not result.covers(ACTION, ARGS)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "rejected", "timeout"]
    assert records[1]["rejected_because"] == "hash-mismatch"


async def test_after_a_mismatch_an_edited_approval_ends_the_wait(skipping_env, settings, platform):
    task_queue = f"tq-{uuid.uuid4()}"
    async with (
        platform_client(settings) as api,
        timer_only_worker(skipping_env.client, settings, api.http, task_queue),
    ):
        handle = await start(skipping_env.client, task_queue, _request())
        approval_id = await wait_pending(handle)
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="bob"),  # no hash
        )
        await handle.signal(
            ApprovalWorkflow.decide,
            bound_decision(
                workspace_id=WORKSPACE,
                action=ACTION,
                args=ARGS,
                approval_id=approval_id,
                approved=True,
                decided_by="carol",
                edit={"dry_run": True},
            ),
        )
        result = await finish(handle, "edits_missing_hash_then_edited", timeout=60)

    edited = {**ARGS, "dry_run": True}
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "carol"
    assert result.args == edited and result.covers(ACTION, edited)
    assert not result.covers(ACTION, ARGS)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "rejected", "granted"]
    assert records[1]["rejected_because"] == "hash-missing"


async def test_refusals_are_audited_in_arrival_order_when_signals_share_a_task(
    skipping_env, settings, platform
):
    """Three signals sent while no worker runs reach the workflow in one task."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(skipping_env.client, task_queue, _request())
            approval_id = await wait_pending(handle)
        for decided_by, edit in (("bob", None), ("carol", {"dry_run": True}), ("dave", None)):
            decision = bound_decision(
                workspace_id=WORKSPACE,
                action=ACTION,
                args=ARGS,
                approval_id=approval_id,
                approved=True,
                decided_by=decided_by,
                edit=edit,
            )
            if decided_by == "bob":
                decision = decision.model_copy(update={"action_hash": None})
            await handle.signal(ApprovalWorkflow.decide, decision)
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            result = await finish(handle, "edits_refusals_in_one_task", timeout=60)

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "carol"
    records = audit_records(settings)
    assert [(r["outcome"], r.get("decided_by")) for r in records] == [
        ("requested", None),
        ("rejected", "bob"),
        ("granted", "carol"),
        ("rejected", "dave"),
    ]
    assert [r.get("rejected_because") for r in records[1::2]] == ["hash-missing", "conflicting"]


async def test_votes_and_refusals_are_audited_in_arrival_order_in_one_task(
    skipping_env, settings, platform
):
    """Votes and refusals sent while no worker runs share one task: the audit keeps the
    order they arrived in, around the outcome."""
    task_queue = f"tq-{uuid.uuid4()}"
    request = approval_request(
        action=ACTION, args=ARGS, requester="agent-7", approvals_required=2, timeout_seconds=WEEK
    )
    right = request.action_hash()
    wrong = action_hash(WORKSPACE, ACTION, {**ARGS, "db": "users"})
    async with platform_client(settings) as api:
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(skipping_env.client, task_queue, request)
            approval_id = await wait_pending(handle)
        for decided_by, hashed in (
            ("carol", wrong),
            ("alice", right),
            ("agent-7", right),
            ("bob", right),
            ("dave", right),
        ):
            await handle.signal(
                ApprovalWorkflow.decide,
                Decision(
                    approval_id=approval_id,
                    approved=True,
                    decided_by=decided_by,
                    action_hash=hashed,
                ),
            )
        async with timer_only_worker(skipping_env.client, settings, api.http, task_queue):
            result = await finish(handle, "votes_refusals_in_one_task", timeout=60)

    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    records = audit_records(settings)
    assert [(r["outcome"], r.get("decided_by")) for r in records] == [
        ("requested", None),
        ("rejected", "carol"),
        ("voted", "alice"),
        ("rejected", "agent-7"),
        ("voted", "bob"),
        ("granted", "bob"),
        ("rejected", "dave"),
    ]
