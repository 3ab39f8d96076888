"""Escalation and reminders end to end: the real dev server, real workers (a worker
process killed and restarted in the middle of the chain) and the real platform in both
modes, with periods of a few seconds (docs/policies/escalation.md)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections import Counter

import pytest
from temporalio.worker import Worker

from durable_approvals.langchain_tool import approval_tool
from durable_approvals.models import ApprovalStatus, ApprovalStatusView, DecisionSource
from durable_approvals.workflows.approval import ApprovalWorkflow
from examples.parent_workflow import Cleanup, CleanupAgent
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    finish,
    outcomes,
    platform_client,
    running_worker,
    spawn_worker,
    start,
    wait_pending,
)
from tests.test_cli import cli, cli_env

pytestmark = pytest.mark.platform_modes("reference", "strict")

LEADS = "oncall-leads"


async def test_the_chain_survives_a_killed_worker(dev_env, settings, platform, tmp_path):
    """Reminders every 2 s, escalated at 3 s, the deadline at 6 s escalates again and gives
    12 s more; the worker is SIGKILLed after the first reminder and restarted 3 s later,
    so the first escalation's timer fires with no worker: it is done late, not lost. The
    second deadline leaves room for a reminder after the restart on a slow machine."""
    task_queue = f"tq-escalation-{os.getpid()}-{id(settings)}"
    log = tmp_path / "worker.log"
    request = approval_request(
        timeout_seconds=6,
        remind_every=2,
        escalate_after=3,
        escalate_to=LEADS,
        on_timeout="escalate",
        escalation_timeout=12,
    )
    first = spawn_worker(dev_env.client, settings, task_queue, log)
    second = None
    try:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle, timeout=30)
        await eventually(lambda: _async(outcomes(settings)[-1:] == ["reminded"]), timeout=30)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        await asyncio.sleep(3)  # the escalation (3 s) comes due with no worker
        second = spawn_worker(dev_env.client, settings, task_queue, log)
        result = await finish(handle, "e2e_chain_worker_killed", timeout=90)
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 10)
    async with platform_client(settings) as api:
        item = await api.get_approval(approval_id)

    assert result.status is ApprovalStatus.TIMEOUT, log.read_text(errors="replace")
    assert result.escalated_to == LEADS
    records = audit_records(settings)
    steps = [r["outcome"] for r in records]
    assert steps[0] == "requested" and steps[-1] == "timeout"
    assert [r["level"] for r in records if r["outcome"] == "escalated"] == [1, 2]
    assert steps.count("reminded") >= 2  # before the kill, and after the second escalation
    assert len({r["event_id"] for r in records}) == len(records)  # each once
    reminders = [r["reminder"] for r in records if r["outcome"] == "reminded"]
    assert reminders == sorted(set(reminders))
    assert records[-1]["timeout_seconds"] == 18.0 and records[-1]["escalated_to"] == LEADS
    assert item is not None
    notices = [r for r in records if r["outcome"] in ("reminded", "escalated")]
    if platform.strict:
        assert {r["shown_on_platform"] for r in notices} == {False}
        assert item["status"] == "pending" and "escalated_to" not in item
    else:
        assert {r["shown_on_platform"] for r in notices} == {True}
        assert item["status"] == "expired"
        assert (item["escalated_to"], item["escalation_level"]) == (LEADS, 2)
        assert item["reminders"] == len(reminders)


async def test_a_decision_after_escalation_comes_through_the_listener(dev_env, settings, platform):
    """The escalated approval stays decidable on the platform; the listener brings the
    decision as usual, and the result says it was escalated."""
    request = approval_request(
        timeout_seconds=60, remind_every=20, escalate_after=1, escalate_to=LEADS
    )
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        async def escalated() -> ApprovalStatusView | None:
            view: ApprovalStatusView = await handle.query(ApprovalWorkflow.status)
            return view if "escalated" in outcomes(settings) else None

        view = await eventually(escalated)
        async with platform_client(settings) as api:
            shown = await api.get_approval(approval_id)
            await api.decide(approval_id, approved=False, decided_by="lead", comment="not now")
        result = await finish(handle, "e2e_decided_after_escalation", timeout=30)

    assert view.escalated_to == LEADS and view.escalations == 1
    assert view.next_reminder_at is not None
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "lead"
    assert result.escalated_to == LEADS
    records = audit_records(settings)
    assert Counter(r["outcome"] for r in records) == {"requested": 1, "escalated": 1, "denied": 1}
    decided = records[-1]
    assert decided["escalated_to"] == LEADS
    assert decided["via"] in {s.value for s in DecisionSource} - {"client"}
    assert shown is not None
    if platform.strict:
        assert shown["status"] == "pending"
    else:
        assert (shown["status"], shown["escalated_to"]) == ("escalated", LEADS)


@pytest.mark.reference_only("the CLI's surface; the platform modes are covered above")
async def test_the_cli_asks_with_a_policy_and_show_prints_the_escalation(
    dev_env, settings, platform
):
    async with running_worker(dev_env.client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        asking = asyncio.create_task(
            cli(
                env,
                *("request", "Drop db", "--timeout", "60", "--remind-every", "1"),
                *("--escalate-after", "2", "--escalate-to", LEADS, "--on-timeout", "escalate"),
            )
        )
        await eventually(
            lambda: _async("escalated" in outcomes(settings) and "reminded" in outcomes(settings)),
            timeout=60,
        )
        approval_id = next(r["approval_id"] for r in audit_records(settings))
        status, out, err = await cli(env, "show", approval_id)
        assert status == 0, err
        shown = json.loads(out)
        assert shown["status"]["escalated_to"] == LEADS
        assert shown["platform"]["status"] == "escalated"
        assert shown["escalation"].startswith(f"escalated to {LEADS} (1x), ")
        assert "next reminder at" in shown["escalation"]
        decided = await cli(env, "decide", approval_id, "--approve", "--by", "lead")
        assert decided[0] == 0, decided
        status, out, err = await asyncio.wait_for(asking, 120)

    assert status == 0, (out, err)
    assert f"escalated to {LEADS}\napproved by lead" in out


@pytest.mark.reference_only("the LangChain surface; the platform modes are covered above")
async def test_the_langchain_tool_asks_with_the_deployments_policy(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        tool = approval_tool(settings, dev_env.client, escalate_after=1, escalate_to=LEADS)
        assert set(tool.args) == {
            "action",
            "reason",
            "args",
        }  # the model does not choose the policy
        call = {"action": "Send the newsletter", "reason": "Weekly"}
        asking = asyncio.create_task(tool.ainvoke(call))
        await eventually(lambda: _async("escalated" in outcomes(settings)), timeout=30)
        approval_id = audit_records(settings)[0]["approval_id"]
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="lead")
        answer = await asyncio.wait_for(asking, 30)
        bad = await approval_tool(settings, dev_env.client, escalate_after=1).ainvoke(call)

    assert answer["approved"] is True and answer["escalated_to"] == LEADS
    assert bad["status"] == "failure" and "escalate_to" in bad["error"]


@pytest.mark.reference_only("the child-workflow surface; the platform modes are covered above")
async def test_a_child_workflow_escalates_too(dev_env, settings, platform):
    request = settings.approval_request(
        "Drop db", "rebuild", escalate_after=1, escalate_to=LEADS, remind_every=5
    )
    async with running_worker(dev_env.client, settings) as approvals_queue:
        agent_queue = f"agents-{uuid.uuid4()}"
        async with Worker(dev_env.client, task_queue=agent_queue, workflows=[CleanupAgent]):
            handle = await dev_env.client.start_workflow(
                CleanupAgent.run,
                Cleanup(request=request, approvals_task_queue=approvals_queue),
                id=f"agent-{uuid.uuid4()}",
                task_queue=agent_queue,
            )
            await eventually(lambda: _async("escalated" in outcomes(settings)), timeout=30)
            approval_id = audit_records(settings)[0]["approval_id"]
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=False, decided_by="lead")
            assert await asyncio.wait_for(handle.result(), 60) == "kept: Denied by human"
    escalated = [r for r in audit_records(settings) if r["outcome"] == "escalated"]
    assert [(r["escalated_to"], r["shown_on_platform"]) for r in escalated] == [(LEADS, True)]


async def _async(value: bool) -> bool:
    return value
