"""The OpenAI Agents SDK (durable_approvals.agents.openai_agents): a real Runner with a
scripted Model; the run's interruptions become approvals keyed by call id, approved or
rejected on the run state; a killed process resumes from its serialized run state."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from agents import Agent, set_tracing_disabled

from durable_approvals.agents.guarded import Gate
from durable_approvals.agents.openai_agents import durable_tool, run_with_approvals
from examples import openai_agents_run
from tests.agents_support import BOUND, Deployment, deployment, killed_and_resumed, process_env

# The reference platform only: the adapter sees nothing but the Gate's answer, and the
# modes differ only in how a decision reaches the workflow, which the same Gate and the
# same ``Deployment.decide`` meet in both modes in tests/test_agents_guarded.py.
set_tracing_disabled(True)  # nothing leaves the machine


@pytest.fixture
async def deployed(dev_env, settings, platform):
    async with deployment(dev_env.client, settings) as deployed:
        yield deployed


@pytest.fixture
def ran() -> list[dict[str, Any]]:
    openai_agents_run.ran.clear()
    return openai_agents_run.ran


def build(deployed: Deployment, *, durable: bool = True, **options: Any) -> tuple[Agent[Any], Gate]:
    gate = Gate(deployed.settings, deployed.client, **options)
    if durable:
        return openai_agents_run.build_agent(durable_tool(openai_agents_run.drop_table, gate)), gate
    plain = copy.copy(openai_agents_run.drop_table)
    plain.needs_approval = True
    return openai_agents_run.build_agent(plain), gate


async def run_and_decide(
    deployed: Deployment, agent: Agent[Any], gate: Gate, **decision: Any
) -> str:
    states: list[str] = []
    running = asyncio.create_task(
        run_with_approvals(agent, "Drop the users table.", gate=gate, on_state=states.append)
    )
    [approval_id] = await deployed.next_pending()
    if "bind_to" in decision:
        verdict = await deployed.decide(approval_id, bind_to=decision.pop("bind_to"))
        assert not verdict.accepted and verdict.reason == "hash-mismatch"
        await asyncio.sleep(0.5)
        assert not running.done()
    assert (await deployed.decide(approval_id, **decision)).accepted
    result = await asyncio.wait_for(running, BOUND)
    assert len(states) == 1  # one stop on interruptions, its state handed over
    output: str = result.final_output
    return output


async def test_approved_call_runs(deployed, platform_mode, ran):
    agent, gate = build(deployed)
    output = await run_and_decide(
        deployed, agent, gate, bind_to={"table": "orders", "dry_run": False}
    )
    assert output == "Done: dropped users" and ran == [{"table": "users", "dry_run": False}]


async def test_approval_with_edits_runs_the_edited_arguments(deployed, platform_mode, ran):
    agent, gate = build(deployed)
    output = await run_and_decide(deployed, agent, gate, edit={"dry_run": True})
    assert output == "Done: dropped users (dry run)"
    assert ran == [{"table": "users", "dry_run": True}]


async def test_a_plain_tool_never_runs_with_edits_it_cannot_apply(deployed, platform_mode, ran):
    agent, gate = build(deployed, durable=False)
    output = await run_and_decide(deployed, agent, gate, edit={"dry_run": True})
    assert output.startswith("Done: approved only with edits") and ran == []


async def test_denied_call_does_not_run(deployed, platform_mode, ran):
    agent, gate = build(deployed)
    output = await run_and_decide(deployed, agent, gate, approved=False, comment="keep it")
    assert output == "Done: denied: keep it" and ran == []


async def test_timeout_rejects_the_call(deployed, platform_mode, ran):
    agent, gate = build(deployed, timeout=2.0)
    result = await asyncio.wait_for(run_with_approvals(agent, "Drop it.", gate=gate), BOUND)
    assert result.final_output.startswith("Done: timeout") and ran == []


async def test_killed_agent_resumes_from_its_run_state(deployed, platform_mode, tmp_path):
    argv = ["examples/openai_agents_run.py", str(tmp_path / "state.json")]
    result, approvals = await killed_and_resumed(
        deployed, argv, process_env(deployed), edit={"dry_run": True}
    )
    assert result["ran"] == [{"table": "users", "dry_run": True}]
    assert result["output"] == "Done: dropped users (dry run)"
    assert len(approvals) == 1
