"""pydantic-ai (durable_approvals.agents.pydantic_ai): a real Agent with a scripted
FunctionModel whose tool requires approval; durable approvals resolve it inside the run
(approved, approved with edits as override_args, denied with the message, timed out),
and out of the run from saved requests after the agent process was killed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from durable_approvals.agents.guarded import Gate
from durable_approvals.agents.pydantic_ai import approval_capability
from tests.agents_support import BOUND, Deployment, deployment, killed_and_resumed, process_env

# The reference platform only: the adapter sees nothing but the Gate's answer, and the
# modes differ only in how a decision reaches the workflow, which the same Gate and the
# same ``Deployment.decide`` meet in both modes in tests/test_agents_guarded.py.


@pytest.fixture
async def deployed(dev_env, settings, platform):
    async with deployment(dev_env.client, settings) as deployed:
        yield deployed


def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns = [p for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
    if not returns:
        call = ToolCallPart("drop_table", {"table": "users"}, f"call_{uuid.uuid4().hex}")
        return ModelResponse(parts=[call])
    return ModelResponse(parts=[TextPart(f"Done: {returns[-1].content}")])


def build(deployed: Deployment, ran: list[dict[str, Any]], **gate: Any) -> Agent[None, str]:
    agent = Agent(
        FunctionModel(script),
        capabilities=[approval_capability(Gate(deployed.settings, deployed.client, **gate))],
    )

    @agent.tool_plain(requires_approval=True)
    def drop_table(table: str, dry_run: bool = False) -> str:
        ran.append({"table": table, "dry_run": dry_run})
        return f"dropped {table}" + (" (dry run)" if dry_run else "")

    return agent


async def run_and_decide(deployed: Deployment, agent: Agent[None, str], **decision: Any) -> str:
    running = asyncio.create_task(agent.run("Drop the users table of staging."))
    [approval_id] = await deployed.next_pending()
    if "bind_to" in decision:  # a decision for other args first: refused, still pending
        verdict = await deployed.decide(approval_id, bind_to=decision.pop("bind_to"))
        assert not verdict.accepted and verdict.reason == "hash-mismatch"
        await asyncio.sleep(0.5)
        assert not running.done()
    assert (await deployed.decide(approval_id, **decision)).accepted
    output: str = (await asyncio.wait_for(running, BOUND)).output
    return output


async def test_approved_call_runs(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    output = await run_and_decide(
        deployed, build(deployed, ran), bind_to={"table": "orders", "dry_run": False}
    )
    assert output == "Done: dropped users"
    assert ran == [{"table": "users", "dry_run": False}]


async def test_approval_with_edits_overrides_the_args(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    output = await run_and_decide(deployed, build(deployed, ran), edit={"dry_run": True})
    assert output == "Done: dropped users (dry run)"
    assert ran == [{"table": "users", "dry_run": True}]


async def test_denied_call_does_not_run(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    output = await run_and_decide(deployed, build(deployed, ran), approved=False, comment="keep it")
    assert output == "Done: denied: keep it" and ran == []


async def test_timeout_denies_the_call(deployed, platform_mode):
    ran: list[dict[str, Any]] = []
    result = await asyncio.wait_for(build(deployed, ran, timeout=2.0).run("Drop it."), BOUND)
    assert result.output.startswith("Done: timeout") and ran == []


async def test_killed_agent_resumes_on_the_same_approval(deployed, platform_mode, tmp_path):
    argv = ["examples/pydantic_ai_agent.py", str(tmp_path / "state.json")]
    result, approvals = await killed_and_resumed(
        deployed, argv, process_env(deployed), edit={"dry_run": True}
    )
    assert result["ran"] == [{"table": "users", "dry_run": True}]
    assert result["output"] == "Done: dropped users (dry run)"
    assert len(approvals) == 1
