"""LangChain 1.x (durable_approvals.agents.langchain_middleware): a real ``create_agent``
with a scripted chat model; the middleware's gated tool call waits for a durable
approval: approved it runs, edited it runs with the edit (where allowed), denied or
timed out it does not run and the model reads the rejection; a checkpointed agent
killed while it waits resumes on the same approval."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from durable_approvals.agents.guarded import Gate
from durable_approvals.agents.langchain_middleware import DurableApprovalMiddleware
from examples import langchain_middleware as example
from tests.agents_support import (
    BOUND,
    Deployment,
    deployment,
    killed_and_resumed,
    next_event,
    process_env,
    start_process,
)

# The reference platform only: the adapter sees nothing but the Gate's answer, and the
# modes differ only in how a decision reaches the workflow, which the same Gate and the
# same ``Deployment.decide`` meet in both modes in tests/test_agents_guarded.py.


@pytest.fixture
async def deployed(dev_env, settings, platform):
    async with deployment(dev_env.client, settings) as deployed:
        yield deployed


@pytest.fixture
def ran() -> list[dict[str, Any]]:
    example.ran.clear()
    return example.ran


def build(deployed: Deployment, config: Any = True, **gate: Any) -> Any:
    middleware = DurableApprovalMiddleware(
        {"drop_table": config}, gate=Gate(deployed.settings, deployed.client, **gate)
    )
    return example.build_agent(middleware)


async def run_and_decide(deployed: Deployment, agent: Any, **decision: Any) -> str:
    running = asyncio.create_task(example.run(agent, f"thread-{uuid.uuid4()}"))
    [approval_id] = await deployed.next_pending()
    if "bind_to" in decision:
        verdict = await deployed.decide(approval_id, bind_to=decision.pop("bind_to"))
        assert not verdict.accepted and verdict.reason == "hash-mismatch"
        await asyncio.sleep(0.5)
        assert not running.done()
    assert (await deployed.decide(approval_id, **decision)).accepted
    return await asyncio.wait_for(running, BOUND)


async def test_approved_call_runs(deployed, platform_mode, ran):
    output = await run_and_decide(
        deployed, build(deployed), bind_to={"table": "orders", "dry_run": False}
    )
    assert output == "Done: dropped users" and ran == [{"table": "users", "dry_run": False}]


async def test_approval_with_edits_runs_the_edited_call(deployed, platform_mode, ran):
    output = await run_and_decide(deployed, build(deployed), edit={"dry_run": True})
    assert output.startswith("Done: Note: a human approver edited this tool call")
    assert output.endswith("dropped users (dry run)")
    assert ran == [{"table": "users", "dry_run": True}]


async def test_an_edit_where_none_is_allowed_is_a_rejection(deployed, platform_mode, ran):
    agent = build(deployed, {"allowed_decisions": ["approve", "reject"]})
    output = await run_and_decide(deployed, agent, edit={"dry_run": True})
    assert "approved only with edits" in output and ran == []


async def test_denied_call_does_not_run(deployed, platform_mode, ran):
    output = await run_and_decide(deployed, build(deployed), approved=False, comment="keep it")
    assert output == (
        "Done: User rejected the tool call for `drop_table` with reason: denied: keep it"
    )
    assert ran == []


async def test_timeout_rejects_the_call(deployed, platform_mode, ran):
    output = await asyncio.wait_for(
        example.run(build(deployed, timeout=2.0), f"thread-{uuid.uuid4()}"), BOUND
    )
    assert "with reason: timeout" in output and ran == []


async def test_killed_agent_resumes_on_the_same_approval(deployed, platform_mode, tmp_path):
    argv = [
        "-m",
        "tests.langchain_middleware_agent",
        str(tmp_path / "checkpoints.pickle"),
        f"thread-{uuid.uuid4()}",
    ]
    result, approvals = await killed_and_resumed(
        deployed, argv, process_env(deployed), edit={"dry_run": True}
    )
    assert result["ran"] == [{"table": "users", "dry_run": True}]
    assert result["output"].endswith("dropped users (dry run)")
    assert len(approvals) == 1


async def test_the_example_runs(deployed, platform_mode):
    process = await start_process(["examples/langchain_middleware.py"], process_env(deployed))
    [approval_id] = await deployed.next_pending()
    assert (await deployed.decide(approval_id)).accepted
    result = await next_event(process, "result")
    assert await asyncio.wait_for(process.wait(), BOUND) == 0
    assert result["output"] == "Done: dropped users"
