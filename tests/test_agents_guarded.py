"""Guarded tools (durable_approvals.agents.guarded): the callable runs only when
approved, with the approved (maybe edited) arguments; a denial, a timeout or a decision
bound to other arguments leaves it unrun; a killed caller resumes on the same approval."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import pytest

from durable_approvals.agents.guarded import (
    ApprovalRefusedError,
    Gate,
    RefusalReason,
    Refused,
    call_key,
    guarded,
)
from tests.agents_support import ROOT, Deployment, deployment, killed_and_resumed, process_env

pytestmark = pytest.mark.platform_modes("reference", "strict")


@pytest.fixture
async def deployed(dev_env, settings, platform):
    async with deployment(dev_env.client, settings) as deployed:
        yield deployed


def new_id() -> str:
    """A call id of its own: the session's Temporal server outlives each test's platform."""
    return f"call-{uuid.uuid4()}"


def tools(deployed: Deployment, ran: list[dict[str, Any]], **gate: Any):
    """An async and a sync guarded tool that record their calls in ``ran``."""
    shared = Gate(deployed.settings, deployed.client, **gate)

    @guarded("Drop a table", reason="Rebuilt nightly", gate=shared)
    async def drop(table: str, dry_run: bool = False) -> str:
        ran.append({"table": table, "dry_run": dry_run})
        return f"dropped {table}"

    @guarded("Send an email", gate=shared, raise_on_refusal=True)
    def send(to: str, **headers: str) -> str:
        ran.append({"to": to, **headers})
        return f"sent to {to}"

    return drop, send


async def test_approved_call_runs_with_its_arguments(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, send = tools(deployed, ran)
    first = new_id()
    asking = asyncio.create_task(drop.call(first, "users"))
    [approval_id] = await deployed.next_pending()
    assert ran == []  # not before the decision
    assert (await deployed.decide(approval_id)).accepted
    assert await asyncio.wait_for(asking, 30) == "dropped users"
    mailing = asyncio.create_task(send.call(new_id(), "ops@example.com", subject="hi"))
    [second] = await deployed.next_pending()
    assert (await deployed.decide(second)).accepted
    assert await asyncio.wait_for(mailing, 30) == "sent to ops@example.com"
    # The same call id asks nothing new: the answer covers the first arguments only.
    again = await drop.call(first, "orders")
    assert isinstance(again, Refused) and again.status is RefusalReason.NOT_COVERED
    assert ran == [{"table": "users", "dry_run": False}, {"to": "ops@example.com", "subject": "hi"}]
    assert len(await deployed.approvals()) == 2


async def test_denied_call_does_not_run(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, send = tools(deployed, ran)
    asking = asyncio.create_task(drop.call(new_id(), "users"))
    [approval_id] = await deployed.next_pending()
    await deployed.decide(approval_id, approved=False, comment="not today")
    refused = await asyncio.wait_for(asking, 30)
    assert isinstance(refused, Refused) and refused.status is RefusalReason.DENIED
    assert refused.decided_by == "alice" and refused.approval_id == approval_id
    assert refused.as_tool_result()["approved"] is False
    mailing = asyncio.create_task(send.call(new_id(), "ops@example.com"))
    [second] = await deployed.next_pending()
    await deployed.decide(second, approved=False)
    with pytest.raises(ApprovalRefusedError) as raised:
        await asyncio.wait_for(mailing, 30)
    assert raised.value.refused.status is RefusalReason.DENIED
    assert ran == []


async def test_approval_with_edits_runs_the_edited_arguments(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, _ = tools(deployed, ran)
    asking = asyncio.create_task(drop.call(new_id(), "users"))
    [approval_id] = await deployed.next_pending()
    assert (await deployed.decide(approval_id, edit={"dry_run": True})).accepted
    assert await asyncio.wait_for(asking, 30) == "dropped users"
    assert ran == [{"table": "users", "dry_run": True}]


async def test_a_decision_bound_to_other_arguments_is_refused(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, _ = tools(deployed, ran)
    asking = asyncio.create_task(drop.call(new_id(), "users"))
    [approval_id] = await deployed.next_pending()
    verdict = await deployed.decide(approval_id, bind_to={"table": "orders", "dry_run": False})
    assert not verdict.accepted and verdict.reason == "hash-mismatch"
    await asyncio.sleep(0.5)
    assert not asking.done() and ran == []  # still waiting for a decision on its own args
    assert (await deployed.decide(approval_id)).accepted
    assert await asyncio.wait_for(asking, 30) == "dropped users"
    assert ran == [{"table": "users", "dry_run": False}]


async def test_timeout_leaves_the_call_unrun(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, _ = tools(deployed, ran, timeout=2.0)
    refused = await asyncio.wait_for(drop.call(new_id(), "users"), 30)
    assert isinstance(refused, Refused) and refused.status is RefusalReason.TIMEOUT
    assert ran == []


async def test_bad_arguments_are_a_failure_before_anything_is_asked(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    drop, _ = tools(deployed, ran)
    refused = await drop.call(new_id(), {1, 2})  # type: ignore[arg-type]
    assert isinstance(refused, Refused) and refused.status is RefusalReason.FAILURE
    assert ran == [] and await deployed.approvals() == []


def test_keys_and_signatures():
    assert call_key("g", "a/b", "x") == call_key("g", "a/b", "x")
    assert call_key("g", "a/b", "x") != call_key("g", "a_b", "x")
    assert call_key("g", "a", "x") != call_key("g", "a", "y")
    with pytest.raises(TypeError):
        guarded()(lambda *items: items)


async def test_killed_caller_resumes_on_the_same_approval(deployed, platform_mode):
    argv = ["examples/guarded_tool.py", f"call-{uuid.uuid4()}"]
    result, approvals = await killed_and_resumed(
        deployed, argv, process_env(deployed), edit={"dry_run": True}
    )
    assert result["ran"] == {"deleted": "bob", "dry_run": True}
    assert len(approvals) == 1 and approvals[0]["status"] != "pending"


def test_guarded_tools_need_no_framework():
    """The guarded tools load with every agent framework unavailable (each adapter
    imports its own framework, and only it)."""
    blocked = ["mcp", "agents", "pydantic_ai", "langchain", "langchain_core", "langgraph"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # import fails as if not installed\n"
        "import durable_approvals.agents.guarded\n"
        "print('ok')\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert loaded.stdout.strip() == "ok", loaded.stderr


async def test_a_sync_tool_asks_from_plain_threads(deployed, platform_mode, dev_env):
    """Called outside an event loop (a plain thread), a sync tool runs each ask in an
    event loop of its own, with a client its gate connected from the settings."""
    ran: list[dict[str, Any]] = []
    target = dev_env.client.service_client.config.target_host
    own = deployed.settings.model_copy(update={"temporal_address": target})

    @guarded("Send an email", gate=Gate(own))
    def send(to: str) -> str:
        ran.append({"to": to})
        return f"sent to {to}"

    for n in range(2):
        calling = asyncio.create_task(asyncio.to_thread(send, f"ops{n}@example.com"))
        [approval_id] = await deployed.next_pending()
        assert (await deployed.decide(approval_id)).accepted
        assert await asyncio.wait_for(calling, 30) == f"sent to ops{n}@example.com"
    assert ran == [{"to": "ops0@example.com"}, {"to": "ops1@example.com"}]
