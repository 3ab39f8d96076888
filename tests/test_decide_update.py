"""Decisions by the ``decide_update`` update (docs/deciding.md): real dev server, real
worker, real platform in both modes. Each refusal reason's verdict through the Python API
and the CLI (printed line, exit code 3), the accepted verdicts (taken, counted, repeated:
exit 0), and that a refused update leaves no event in the workflow's history.

To hold a workflow between its decision and its end (for ``repeated`` and
``conflicting``) or between its deadline and its end (``late`` while it still runs), the
worker's audit writes are held (``HeldAudit``): the workflow's next audit write waits
until the hold ends and then goes on at once (a write that failed instead would be
retried only after the audit's backoff, up to 30 s). Meanwhile the worker keeps
the workflow task open, heartbeating it at 80% of its timeout: the workflows here have a
short task timeout so that an update sent meanwhile is delivered within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from durable_approvals.action_hash import action_hash
from durable_approvals.audit_log import AuditLog
from durable_approvals.client import (
    DecisionTimeoutError,
    decide,
    offer_decision,
    waiting_workflow,
)
from durable_approvals.models import (
    DECIDE_UPDATE,
    ApprovalRequest,
    ApprovalResult,
    ApprovalStatus,
    AuditEntry,
    Decision,
    DecisionVerdict,
    VerdictOutcome,
)
from durable_approvals.settings import Settings
from tests.helpers import (
    approval_request,
    eventually,
    finish,
    outcomes,
    running_worker,
    wait_pending,
)
from tests.test_cli import cli, cli_env

pytestmark = pytest.mark.platform_modes("reference", "strict")

REQUESTER = "agent-7"
GROUPS = "approver_groups:\n  prod-admins: [Alice, bob, agent-7]\n"
ARGS = {"db": "stage-7", "dry_run": False}


async def start(
    client: Client, task_queue: str, request: ApprovalRequest
) -> WorkflowHandle[Any, ApprovalResult]:
    """``tests.helpers.start`` with a 3 s workflow task timeout (see the docstring)."""
    return await client.start_workflow(
        "ApprovalWorkflow",
        request,
        id=f"approval-test-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=ApprovalResult,
        task_timeout=timedelta(seconds=3),
    )


class HeldAudit(AuditLog):
    """The worker's audit log, whose writes can be held: inside ``held()`` each write
    waits (in its activity's thread) and goes on the moment the hold ends."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._open = threading.Event()
        self._open.set()

    def append(self, entry: AuditEntry) -> bool:
        self._open.wait()
        return super().append(entry)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()


@contextlib.asynccontextmanager
async def held_worker(client: Client, settings: Settings) -> AsyncIterator[tuple[str, HeldAudit]]:
    """``running_worker`` writing its audit through a ``HeldAudit``: (task queue, audit)."""
    audit = HeldAudit(settings.audit_log_path)
    async with running_worker(client, settings, audit) as task_queue:
        yield task_queue, audit


async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
    """The decisions of every ``decide_update`` the workflow accepted, from its history."""
    history = await handle.fetch_history()
    accepted = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            assert request.input.name == DECIDE_UPDATE
            accepted.append(json.loads(request.input.args.payloads[0].data))
    return accepted


def update_event_count(history: Any) -> int:
    return sum(
        1
        for event in history.events
        if any(
            event.HasField(f"workflow_execution_update_{kind}_event_attributes")
            for kind in ("admitted", "accepted", "rejected", "completed")
        )
    )


async def known(client: Client, settings: Settings, approval_id: str) -> str:
    """Wait until visibility shows the workflow waiting for ``approval_id``."""
    workflow_id: str = await eventually(lambda: waiting_workflow(client, settings, approval_id))
    return workflow_id


def refused(verdict: DecisionVerdict, reason: str) -> bool:
    return (verdict.accepted, verdict.outcome, verdict.reason) == (
        False,
        VerdictOutcome.REFUSED,
        reason,
    )


async def test_each_verdict_through_the_python_api(dev_env, settings, platform):
    client = dev_env.client
    async with held_worker(client, settings) as (task_queue, audit):
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, approval_request(requester=REQUESTER))
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)

        unknown = await decide(
            client, settings, "no-such-approval", approved=True, decided_by="alice",
            visibility_wait=1.0,
        )  # fmt: skip
        assert refused(unknown, "unknown approval")
        other = Decision(approval_id="another-approval", approved=True, decided_by="alice")
        assert refused(await offer_decision(handle, other), "unknown approval")
        selfish = await decide(client, settings, approval_id, approved=True, decided_by="Agent-7")
        assert refused(selfish, "self-approval") and selfish.state == "pending"

        with audit.held():  # the workflow decides, then waits for its audit write
            taken = await decide(
                client, settings, approval_id, approved=True, decided_by="alice", comment="ok"
            )
            assert (taken.accepted, taken.outcome, taken.reason) == (
                True,
                VerdictOutcome.TAKEN,
                None,
            )
            assert taken.state == "decided" and taken.decision is not None
            assert taken.decision.decided_by == "alice"
            again = await decide(client, settings, approval_id, approved=True, decided_by="alice")
            assert (again.accepted, again.outcome, again.reason) == (
                True,
                VerdictOutcome.REPEATED,
                "repeated",
            )
            other_answer = await decide(
                client, settings, approval_id, approved=False, decided_by="bob"
            )
            assert refused(other_answer, "conflicting")
            assert other_answer.decision is not None
            assert other_answer.decision.decided_by == "alice"
        result = await finish(handle, "api_verdicts")
        # The workflow has ended: its result answers, in the same words.
        ended = await decide(client, settings, approval_id, approved=False, decided_by="bob")
        assert refused(ended, "conflicting") and ended.state == "closed"
        assert ended.decision is not None and ended.decision.decided_by == "alice"
        ended_again = await decide(client, settings, approval_id, approved=True, decided_by="ALICE")
        assert (ended_again.accepted, ended_again.outcome) == (True, VerdictOutcome.REPEATED)

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "alice"
    assert result.comment == "ok"
    # Only the accepted updates are in the history; the refused ones left nothing, not even
    # a rejected record in the audit (the decider had the answer).
    accepted = await accepted_updates(handle)
    assert [(d["decided_by"], d["approved"]) for d in accepted] == [
        ("alice", True),
        ("alice", True),
    ]
    assert update_event_count(await handle.fetch_history()) == 4  # accepted + completed, x2
    assert outcomes(settings) == ["requested", "granted"]


async def test_each_verdict_through_the_cli(dev_env, settings, platform):
    client = dev_env.client
    async with held_worker(client, settings) as (task_queue, audit):
        env = cli_env(dev_env, settings, task_queue)
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})

        # The unknown id looks for its workflow for the whole visibility wait (5 s): it
        # does so while the approval below is started.
        unknown = asyncio.create_task(
            cli(env, "decide", "no-such-approval", "--approve", "--by", "a", "--vote")
        )
        handle = await start(client, task_queue, approval_request(requester=REQUESTER))
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)
        assert await unknown == (2, "", "approvals: unknown approval id no-such-approval\n")

        def decide_cli(flag: str, by: str):
            return cli(env, "decide", approval_id, flag, "--by", by, "--vote")

        assert await decide_cli("--approve", "AGENT-7") == (
            3,
            f"refused {approval_id}: self-approval\n",
            "",
        )
        with audit.held():
            assert await decide_cli("--deny", "bob") == (0, f"denied {approval_id}: taken\n", "")
            assert await decide_cli("--deny", "bob") == (
                0,
                f"denied {approval_id}: repeated\n",
                "",
            )
            assert await decide_cli("--approve", "alice") == (
                3,
                f"refused {approval_id}: conflicting\n",
                "",
            )
        result = await finish(handle, "cli_verdicts")
        code, out, err = await decide_cli("--approve", "alice")

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "bob"
    assert (code, out, err) == (3, f"refused {approval_id}: conflicting\n", "")
    assert [(d["decided_by"], d["approved"]) for d in await accepted_updates(handle)] == [
        ("bob", False),
        ("bob", False),
    ]
    assert outcomes(settings) == ["requested", "denied"]


async def test_late_while_the_workflow_still_expires(dev_env, settings, platform):
    """After the deadline the workflow closes the wait and expires the request; a decision
    then is refused as late by the validator, though the workflow still runs."""
    client = dev_env.client
    async with held_worker(client, settings) as (task_queue, audit):
        env = cli_env(dev_env, settings, task_queue)
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, approval_request(timeout_seconds=3))
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)
        with audit.held():  # the 'timeout' record waits: the workflow runs on
            await eventually(lambda: _past_deadline(handle), timeout=20)
            late = await decide(client, settings, approval_id, approved=True, decided_by="alice")
            code, out, _ = await cli(env, "decide", approval_id, "--deny", "--by", "bob", "--vote")
            assert (await handle.describe()).status.name == "RUNNING"
        result = await finish(handle, "late_while_expiring")

    assert refused(late, "late")
    assert (code, out) == (3, f"refused {approval_id}: late\n")
    assert result.status is ApprovalStatus.TIMEOUT
    assert await accepted_updates(handle) == []
    assert update_event_count(await handle.fetch_history()) == 0
    assert outcomes(settings) == ["requested", "timeout"]


async def _past_deadline(handle: WorkflowHandle[Any, Any]) -> bool:
    """The workflow is past its deadline: its timer fired (the expiry has begun)."""
    history = await handle.fetch_history()
    return any(event.HasField("timer_fired_event_attributes") for event in history.events)


async def test_votes_counted_repeated_and_refused(dev_env, settings, platform):
    settings.rbac_config_path.write_text(GROUPS, encoding="utf-8")
    client = dev_env.client
    request = approval_request(
        requester=REQUESTER, approvals_required=2, approver_group="prod-admins"
    )
    async with running_worker(client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, request)
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)

        def vote(by: str):
            return cli(env, "decide", approval_id, "--approve", "--by", by, "--vote")

        assert await vote("mallory") == (3, f"refused {approval_id}: not in approver group\n", "")
        assert await vote("agent-7") == (3, f"refused {approval_id}: self-approval\n", "")
        assert await vote("alice") == (
            0,
            f"approved {approval_id}: counted (1 of 2 approvals)\n",
            "",
        )
        again = await decide(client, settings, approval_id, approved=True, decided_by="ALICE")
        assert (again.outcome, again.votes, again.state) == (
            VerdictOutcome.REPEATED,
            1,
            "pending",
        )
        taken = await decide(client, settings, approval_id, approved=True, decided_by="bob")
        assert (taken.outcome, taken.votes, taken.state) == (VerdictOutcome.TAKEN, 2, "decided")
        result = await finish(handle, "votes")

    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    assert [d["decided_by"] for d in await accepted_updates(handle)] == ["alice", "ALICE", "bob"]
    assert outcomes(settings) == ["requested", "voted", "voted", "granted"]


async def test_the_args_binding_refuses_before_history(dev_env, settings, platform):
    client = dev_env.client
    request = approval_request(args=ARGS)
    right = action_hash(settings.workspace_id, request.action, ARGS)
    async with running_worker(client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, request)
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)

        async def approve(**binding: Any) -> DecisionVerdict:
            return await decide(
                client, settings, approval_id, approved=True, decided_by="alice", **binding
            )

        assert refused(await approve(), "hash-missing")
        assert refused(await approve(action_hash="0" * 64), "hash-mismatch")
        bad_edit = {**ARGS, "dry_run": "yes"}  # another JSON type: not the same shape
        edited = await approve(
            action_hash=action_hash(settings.workspace_id, request.action, bad_edit),
            edited_args=bad_edit,
        )
        assert refused(edited, "edit-invalid")
        taken = await approve(action_hash=right)
        assert taken.outcome is VerdictOutcome.TAKEN
        result = await finish(handle, "args_bound")

    assert result.status is ApprovalStatus.GRANTED and result.action_hash == right
    assert [d["action_hash"] for d in await accepted_updates(handle)] == [right]
    assert outcomes(settings) == ["requested", "granted"]


async def test_cli_edits_refused_on_the_upstream_contract(dev_env, settings, platform):
    """On the upstream contract, --edit goes through the update: a bad edit is refused."""
    if not platform.strict:
        pytest.skip("the reference platform carries the hash and edits: its route decides")
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, approval_request(args=ARGS))
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)
        bad = await cli(
            env, "decide", approval_id, "--approve", "--by", "bob", "--edit", '{"db": 7}'
        )
        good = await cli(
            env, "decide", approval_id, "--approve", "--by", "bob", "--edit", '{"dry_run": true}'
        )
        result = await finish(handle, "cli_edits")

    assert bad == (3, f"refused {approval_id}: edit-invalid\n", "")
    assert good == (0, f"approved {approval_id}: taken\n", "")
    assert result.status is ApprovalStatus.GRANTED and result.edited
    assert result.args == {**ARGS, "dry_run": True}


@pytest.mark.reference_only("no platform call: the mode changes nothing")
async def test_no_worker_is_a_clear_timeout(dev_env, settings, platform):
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, approval_request(timeout_seconds=600))
        approval_id = await wait_pending(handle)
        await known(client, settings, approval_id)
    # The worker is gone; the workflow waits on.
    with pytest.raises(DecisionTimeoutError, match="no worker answered"):
        await decide(client, settings, approval_id, approved=True, decided_by="alice", timeout=2.0)
    await handle.terminate("test over")
    assert update_event_count(await handle.fetch_history()) == 0
