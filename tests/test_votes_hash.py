"""Args with N-of-M (docs/policies/n-of-m.md, edits.md): every vote names the action hash.

Real dev server, worker and platform in both modes (and the time-skipping server). Votes
take each mode's path: the reference platform's vote route with the [ext] ``action_hash``
(stored with the vote, broadcast in ``APPROVAL_VOTED``); on the strict one our decide
path, the ``decide`` signal (``send_decision``) or the ``decide_update`` update.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from durable_approvals.action_hash import action_hash
from durable_approvals.binding import EDITS_NEED_ONE_DECIDER, HASH_MISMATCH, HASH_MISSING
from durable_approvals.client import decide, send_decision
from durable_approvals.edits import bound_decision
from durable_approvals.models import ApprovalStatus, Decision, VerdictOutcome
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.test_cli import cli, cli_env
from tests.test_durable_timer import WEEK, timer_only_worker
from tests.test_n_of_m import votes_counted

pytestmark = pytest.mark.platform_modes("reference", "strict")

LIMIT = 90
REQUESTER = "agent-7"
ACTION = "Drop the staging database"
ARGS = {"db": "staging", "dry_run": False}
HASH = action_hash(WORKSPACE, ACTION, ARGS)
EDITED = {**ARGS, "dry_run": True}


def two_with_args(**fields: Any):
    return approval_request(
        action=ACTION, args=ARGS, requester=REQUESTER, approvals_required=2, **fields
    )


async def vote(
    platform, settings: Settings, client, approval_id: str, by: str, **fields: Any
) -> None:
    """One vote by the mode's path: the reference platform's route, else the signal."""
    approved = fields.pop("approved", True)
    if platform.strict:

        async def sent() -> str:
            return await send_decision(
                client, settings, approval_id, approved=approved, decided_by=by, **fields
            )

        await eventually(sent)
        return
    async with platform_client(settings) as api:
        await api.decide(approval_id, approved=approved, decided_by=by, **fields)


async def platform_refusal(settings: Settings, approval_id: str, body: dict[str, Any]) -> Any:
    """The reference platform's answer to a vote: (status, reason)."""
    async with platform_client(settings) as api:
        response = await api._send(
            "POST", api._item_url(approval_id, "/decide"), failed="vote", json=body
        )
    return response.status_code, response.json().get("reason")


async def rejected_audited(settings: Settings, count: int) -> bool:
    return sum(r["outcome"] == "rejected" for r in audit_records(settings)) >= count


async def test_two_votes_naming_the_hash_grant_and_cover_the_args(dev_env, settings, platform):
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(dev_env.client, task_queue, two_with_args())
        approval_id = await wait_pending(handle)
        await vote(platform, settings, dev_env.client, approval_id, "alice", action_hash=HASH)
        assert await votes_counted(handle, 1) == ["alice"]
        if not platform.strict:  # the vote item keeps each vote's hash
            async with platform_client(settings) as api:
                item = await api.get_approval(approval_id)
            assert item is not None and item["votes"][0]["action_hash"] == HASH
        await vote(platform, settings, dev_env.client, approval_id, "bob", action_hash=HASH)
        result = await finish(handle, "votes_with_the_hash")

    assert result.status is ApprovalStatus.GRANTED
    assert (result.approvers, result.decided_by) == (["alice", "bob"], "bob")
    assert result.covers(ACTION, ARGS) and not result.covers(ACTION, EDITED)
    assert (result.args, result.action_hash, result.edited) == (ARGS, HASH, False)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "voted", "voted", "granted"]
    assert records[-1]["action_hash"] == HASH and records[-1]["approvers"] == ["alice", "bob"]


async def test_votes_not_bound_to_the_hash_are_refused_audited_and_not_counted(
    dev_env, settings, platform
):
    """Another hash, no hash, edits: refused (the reference platform's 409 with the
    reason; the workflow's ``rejected`` record by signal; the update's verdict)."""
    other = action_hash(WORKSPACE, ACTION, {**ARGS, "db": "prod"})
    edits = {"action_hash": action_hash(WORKSPACE, ACTION, EDITED), "edited_args": EDITED}
    unbound: list[tuple[str, dict[str, Any], str]] = [
        ("carol", {"action_hash": other}, HASH_MISMATCH),
        ("dave", edits, EDITS_NEED_ONE_DECIDER),
        ("erin", {}, HASH_MISSING),
    ]
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(dev_env.client, task_queue, two_with_args())
        approval_id = await wait_pending(handle)
        if not platform.strict:  # refused before it is stored: nothing reaches the workflow
            for by, fields, because in unbound:
                body = {"decision": "approved", "decided_by": by, **fields}
                assert await platform_refusal(settings, approval_id, body) == (409, because)
            async with platform_client(settings) as api:
                item = await api.get_approval(approval_id)
            assert item is not None and (item["status"], item["votes"]) == ("pending", [])
        verdicts = []
        for by, fields, _ in unbound:  # the update's validator refuses, nothing recorded
            verdict = await decide(
                dev_env.client, settings, approval_id, approved=True, decided_by=by, **fields
            )
            verdicts.append((verdict.outcome, verdict.reason))
        for by, fields, _ in unbound:  # the signal: refused and audited
            await send_decision(
                dev_env.client, settings, approval_id, approved=True, decided_by=by, **fields
            )
        await eventually(lambda: rejected_audited(settings, 3))
        status = await handle.query(ApprovalWorkflow.status)
        assert status.votes == [] and status.rejected_decisions == 3
        await vote(platform, settings, dev_env.client, approval_id, "alice", action_hash=HASH)
        await votes_counted(handle, 1)
        await vote(platform, settings, dev_env.client, approval_id, "bob", action_hash=HASH)
        result = await finish(handle, "votes_not_bound_refused")

    assert verdicts == [(VerdictOutcome.REFUSED, because) for _, _, because in unbound]
    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    assert result.covers(ACTION, ARGS)
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == [
        "requested",
        *["rejected"] * 3,
        "voted",
        "voted",
        "granted",
    ]
    rejected = [(r["actor"], r["rejected_because"]) for r in records if r["outcome"] == "rejected"]
    assert rejected == [(by, because) for by, _, because in unbound]


async def test_a_denial_vote_without_the_hash_denies(dev_env, settings, platform):
    """As for a single decision, a denial needs no hash (saying no runs nothing)."""
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(dev_env.client, task_queue, two_with_args())
        approval_id = await wait_pending(handle)
        await vote(platform, settings, dev_env.client, approval_id, "alice", action_hash=HASH)
        await votes_counted(handle, 1)
        await vote(platform, settings, dev_env.client, approval_id, "bob", approved=False)
        result = await finish(handle, "votes_denied_without_hash")

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "bob"
    assert result.approvers == ["alice"] and not result.covers(ACTION, ARGS)


async def test_the_cli_votes_name_the_hash_and_an_edit_is_refused(dev_env, settings, platform):
    async with asyncio.timeout(2 * LIMIT), running_worker(dev_env.client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        handle = await start(dev_env.client, task_queue, two_with_args())
        approval_id = await wait_pending(handle)
        code, out, err = await cli(
            env, "decide", approval_id, "--approve", "--by", "dave", "--edit", '{"dry_run": true}'
        )
        assert (code, out.strip()) == (3, f"refused {approval_id}: {EDITS_NEED_ONE_DECIDER}"), err
        code, out, err = await cli(env, "decide", approval_id, "--approve", "--by", "alice")
        assert code == 0, err
        assert out.strip() == f"approved {approval_id}: counted (1 of 2 approvals)"
        await votes_counted(handle, 1)
        code, out, err = await cli(env, "decide", approval_id, "--approve", "--by", "bob", "--vote")
        assert code == 0, err
        assert out.strip() == f"approved {approval_id}: taken"
        result = await finish(handle, "votes_by_the_cli")

    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    assert result.covers(ACTION, ARGS)


async def test_votes_naming_the_hash_end_a_week_long_wait(skipping_env, settings, platform):
    """Time-skipping: a vote for another hash leaves the week-long wait on; two bound
    votes grant it."""
    task_queue = f"tq-{uuid.uuid4()}"
    other = action_hash(WORKSPACE, ACTION, {**ARGS, "db": "prod"})
    async with (
        platform_client(settings) as api,
        timer_only_worker(skipping_env.client, settings, api.http, task_queue),
    ):
        handle = await start(skipping_env.client, task_queue, two_with_args(timeout_seconds=WEEK))
        approval_id = await wait_pending(handle)
        for by, hashed in (("carol", other), ("alice", HASH)):
            await handle.signal(
                ApprovalWorkflow.decide,
                Decision(approval_id=approval_id, approved=True, decided_by=by, action_hash=hashed),
            )
        await handle.signal(
            ApprovalWorkflow.decide,
            bound_decision(
                workspace_id=WORKSPACE,
                action=ACTION,
                args=ARGS,
                approval_id=approval_id,
                approved=True,
                decided_by="bob",
            ),
        )
        result = await finish(handle, "votes_with_the_hash_week", timeout=60)

    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    assert result.covers(ACTION, ARGS)
    records = audit_records(settings)
    outcomes = [r["outcome"] for r in records]
    assert outcomes == ["requested", "rejected", "voted", "voted", "granted"]
    assert records[1]["rejected_because"] == HASH_MISMATCH
