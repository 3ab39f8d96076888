"""Structured args, approve with edits, and the action hash, end to end: real dev server,
real worker, real platform in both modes (docs/policies/edits.md).

A decision names the hash it approves; another hash is rejected and audited while the
approval stays pending; an approval with edits returns the edited args, and
``result.covers`` holds for them and not for the originals.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest
from temporalio.worker import Worker

from durable_approvals.action_hash import action_hash
from durable_approvals.devstack.platform.decide_routes import ERROR_NOT_BOUND
from durable_approvals.edits import bound_decision, find_waiting_workflow
from durable_approvals.models import ApprovalStatus, Decision
from durable_approvals.platform_client import PlatformError
from durable_approvals.workflows.approval import ApprovalWorkflow
from examples.parent_workflow import Cleanup
from tests.edits_agent import EditingAgent
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    outcomes,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.test_cli import cli, cli_env, pending_id
from tests.test_examples import ROOT, example_env, run_example

pytestmark = pytest.mark.platform_modes("reference", "strict")

LIMIT = 90.0
ACTION = "Drop the staging database"
ARGS = {"db": "stage-7", "dry_run": False, "tables": ["users", "orders"]}
SCHEMA = {
    "type": "object",
    "properties": {
        "db": {"type": "string", "enum": ["stage-7", "qa"]},
        "dry_run": {"type": "boolean"},
        "tables": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["db", "dry_run"],
    "additionalProperties": False,
}
HASH = action_hash(WORKSPACE, ACTION, ARGS)


def decision(approval_id: str, **fields) -> Decision:
    return bound_decision(
        workspace_id=WORKSPACE,
        action=ACTION,
        args=ARGS,
        approval_id=approval_id,
        approved=fields.pop("approved", True),
        decided_by=fields.pop("decided_by", "bob"),
        **fields,
    )


async def _outcomes_are(settings, expected: list[str]) -> None:
    async def check() -> bool:
        return outcomes(settings) == expected

    await eventually(check)


async def test_a_mismatched_hash_is_rejected_and_audited_then_a_matching_one_granted(
    dev_env, settings, platform
):
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(action=ACTION, args=ARGS))
        approval_id = await wait_pending(handle)
        view = await handle.query(ApprovalWorkflow.status)
        other = action_hash(WORKSPACE, ACTION, {**ARGS, "db": "prod"})
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="bob", action_hash=other),
        )
        await _outcomes_are(settings, ["requested", "rejected"])
        pending = await handle.query(ApprovalWorkflow.status)
        await handle.signal(ApprovalWorkflow.decide, decision(approval_id, decided_by="carol"))
        result = await finish(handle, "hash_mismatch_then_granted")

    assert (view.action_hash, view.args, view.action) == (HASH, ARGS, ACTION)
    assert (pending.state.value, pending.decision, pending.rejected_decisions) == (
        "pending",
        None,
        1,
    )
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "carol"
    assert (result.args, result.action_hash, result.edited) == (ARGS, HASH, False)
    assert result.covers(ACTION, ARGS)
    assert not result.covers(ACTION, {**ARGS, "db": "prod"})
    requested, rejected, granted = audit_records(settings)
    assert (requested["action_hash"], requested["arg_keys"]) == (HASH, ["db", "dry_run", "tables"])
    assert (rejected["rejected_because"], rejected["action_hash"]) == ("hash-mismatch", other)
    assert (granted["outcome"], granted["action_hash"], granted["edited"]) == (
        "granted",
        HASH,
        False,
    )
    assert "stage-7" not in json.dumps(audit_records(settings))  # the hash, not the args


async def test_approve_with_edits_returns_the_edited_args(dev_env, settings, platform):
    edit = {"dry_run": True, "tables": ["users"]}
    edited = {**ARGS, **edit}
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(
            dev_env.client,
            task_queue,
            approval_request(action=ACTION, args=ARGS, args_schema=SCHEMA),
        )
        approval_id = await wait_pending(handle)
        await handle.signal(ApprovalWorkflow.decide, decision(approval_id, edit=edit))
        result = await finish(handle, "approved_with_edits")
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)

    assert result.status is ApprovalStatus.GRANTED
    assert (result.args, result.edited) == (edited, True)
    assert result.action_hash == action_hash(WORKSPACE, ACTION, edited)
    assert result.covers(ACTION, edited)
    assert not result.covers(ACTION, ARGS)
    granted = audit_records(settings)[-1]
    assert (granted["outcome"], granted["edited"]) == ("granted", True)
    assert granted["action_hash"] == result.action_hash
    assert item is not None and item["status"] == "approved"
    if not platform.strict:  # [ext]: the platform holds the edits the workflow recorded
        assert (item["args"], item["action_hash"]) == (ARGS, HASH)
        assert (item["edited_args"], item["decision_action_hash"]) == (edited, result.action_hash)


async def test_edits_failing_the_schema_are_rejected_and_audited(dev_env, settings, platform):
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(
            dev_env.client,
            task_queue,
            approval_request(action=ACTION, args=ARGS, args_schema=SCHEMA),
        )
        approval_id = await wait_pending(handle)
        bad = {**ARGS, "db": "prod"}  # not in the schema's enum
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(
                approval_id=approval_id,
                approved=True,
                decided_by="bob",
                edited_args=bad,
                action_hash=action_hash(WORKSPACE, ACTION, bad),
            ),
        )
        await _outcomes_are(settings, ["requested", "rejected"])
        view = await handle.query(ApprovalWorkflow.status)
        # A denial needs no hash: a human saying no binds nothing.
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=False, decided_by="carol"),
        )
        result = await finish(handle, "edits_failing_the_schema")

    assert (view.state.value, view.rejected_decisions) == ("pending", 1)
    rejected = audit_records(settings)[1]
    assert (rejected["rejected_because"], rejected["edited"]) == ("edit-invalid", True)
    assert result.status is ApprovalStatus.DENIED and not result.covers(ACTION, ARGS)


@pytest.mark.reference_only("the hash and edits in the decide body are [ext]: strict below")
async def test_the_reference_platform_checks_the_hash_and_carries_the_edits(
    dev_env, settings, platform
):
    edit = {"dry_run": True}
    edited = {**ARGS, **edit}
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(action=ACTION, args=ARGS))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)
            refused = []
            for body in (
                {"action_hash": "0" * 64},  # another hash
                {},  # no hash on an approval of args
                {"edited_args": {**ARGS, "db": 1}, "action_hash": HASH},  # not the same shape
            ):
                with pytest.raises(PlatformError) as error:
                    await api.decide(approval_id, approved=True, decided_by="bob", **body)
                refused.append((error.value.status_code, error.value.message))
            still = await api.get_approval(approval_id)
            await api.decide(
                approval_id,
                approved=True,
                decided_by="bob",
                action_hash=action_hash(WORKSPACE, ACTION, edited),
                edited_args=edited,
            )
        result = await finish(handle, "edits_through_the_platform")

    assert item is not None and (item["args"], item["action_hash"]) == (ARGS, HASH)
    assert [code for code, _ in refused] == [409, 409, 409]
    assert all(ERROR_NOT_BOUND in message for _, message in refused), refused
    assert still is not None and still["status"] == "pending"
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "bob"
    assert result.args == edited and result.covers(ACTION, edited)
    assert not result.covers(ACTION, ARGS)


@pytest.mark.platform_modes("strict")
async def test_on_the_upstream_contract_the_hash_goes_through_the_workflow(
    dev_env, settings, platform
):
    """The contract's decide has no hash: an approval made there binds nothing and is
    rejected (``hash-missing``); the approver's signal carries the hash, and the workflow
    records the decision on the platform."""
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(action=ACTION, args=ARGS))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="bob", action_hash=HASH)
            await _outcomes_are(settings, ["requested", "rejected"])
            found = await eventually(
                lambda: find_waiting_workflow(dev_env.client, task_queue, WORKSPACE, approval_id)
            )
            assert found.id == handle.id
            await found.signal(ApprovalWorkflow.decide, decision(approval_id, decided_by="carol"))
            result = await finish(handle, "hash_through_the_workflow")

    rejected = audit_records(settings)[1]
    assert (rejected["rejected_because"], rejected["decided_by"]) == ("hash-missing", "bob")
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "carol"
    assert result.covers(ACTION, ARGS)


async def test_a_request_without_args_is_decided_as_before(dev_env, settings, platform):
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request())
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="bob")
        result = await finish(handle, "no_args")
    assert result.status is ApprovalStatus.GRANTED
    assert (result.args, result.action_hash, result.workspace_id) == (None, None, None)
    assert not result.covers("Drop the staging database", None)
    assert "action_hash" not in json.dumps(audit_records(settings))


async def test_the_cli_requests_with_args_and_approves_with_an_edit(dev_env, settings, platform):
    """``approvals request --args`` waits; ``approvals decide --edit`` approves the args
    merge-patched, naming their hash (through the platform in reference mode, through
    the workflow's signal on the upstream contract); ``show`` has the args and hash."""
    args = {"db": "stage-7", "dry_run": False}
    async with asyncio.timeout(LIMIT * 2), running_worker(dev_env.client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        asking = asyncio.create_task(
            cli(env, "request", ACTION, "--args", json.dumps(args), "--timeout", "60")
        )
        approval_id = await eventually(lambda: pending_id(settings), timeout=60)
        shown = json.loads((await cli(env, "show", approval_id))[1])
        decided = await cli(
            env, "decide", approval_id, "--approve", "--by", "bob", "--edit", '{"dry_run": true}'
        )
        asked = await asking

    edited = {**args, "dry_run": True}
    assert (shown["status"]["args"], shown["status"]["action_hash"]) == (
        args,
        action_hash(WORKSPACE, ACTION, args),
    )
    assert decided[0] == 0, decided
    # strict: through the workflow's decide update; reference: the platform's route
    assert decided[1].strip() == f"approved {approval_id}: taken"
    assert asked[0] == 0, asked
    assert f"args {json.dumps(edited, sort_keys=True)}" in asked[1]
    assert f"action_hash {action_hash(WORKSPACE, ACTION, edited)} (edited)" in asked[1]


DOC = ROOT / "docs" / "policies" / "edits.md"
EXAMPLE = "approve_with_edits.py"


def test_the_docs_snippet_is_the_example_file():
    blocks = re.findall(
        r'```python title="(examples/[^"]+)"\n(.*?)```', DOC.read_text(encoding="utf-8"), re.S
    )
    example = (ROOT / "examples" / EXAMPLE).read_text(encoding="utf-8")
    assert blocks == [(f"examples/{EXAMPLE}", example)]


async def test_the_approve_with_edits_example_runs_end_to_end(dev_env, settings, platform):
    """The doc's snippet as a real process; the approver edits with the CLI. The example's
    key is fixed, so each platform mode gets a workspace of its own."""
    ours = settings.model_copy(update={"workspace_id": f"ws-edits-{uuid.uuid4().hex[:8]}"})
    async with asyncio.timeout(LIMIT * 2), running_worker(dev_env.client, ours) as task_queue:
        env = example_env(dev_env, ours, task_queue)
        running = asyncio.create_task(run_example(EXAMPLE, env))
        approval_id = await eventually(lambda: pending_id(ours), timeout=60)
        decided = await cli(
            env, "decide", approval_id, "--approve", "--by", "bob", "--edit", '{"dry_run": true}'
        )
        out = await running

    assert decided[0] == 0, decided
    edited = {"db": "staging", "dry_run": True}
    assert out.strip() == f"running Drop the staging database with {edited}"


@pytest.mark.reference_only("the child runs the same workflow: the modes are covered above")
async def test_a_parent_workflow_gets_the_edited_args_from_the_child(dev_env, settings, platform):
    async with asyncio.timeout(LIMIT), running_worker(dev_env.client, settings) as approvals_queue:
        agent_queue = f"agents-{uuid.uuid4()}"
        async with Worker(dev_env.client, task_queue=agent_queue, workflows=[EditingAgent]):
            job = Cleanup(
                request=settings.approval_request(ACTION, "rebuild", args=ARGS),
                approvals_task_queue=approvals_queue,
            )
            handle = await dev_env.client.start_workflow(
                EditingAgent.run, job, id=f"agent-{uuid.uuid4()}", task_queue=agent_queue
            )
            approval_id = await eventually(lambda: pending_id(settings), timeout=60)
            child = await eventually(
                lambda: find_waiting_workflow(
                    dev_env.client, approvals_queue, WORKSPACE, approval_id
                )
            )
            await child.signal(
                ApprovalWorkflow.decide, decision(approval_id, edit={"dry_run": True})
            )
            answer = await handle.result()
    assert answer == [{**ARGS, "dry_run": True}, True, False]
