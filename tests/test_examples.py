"""The examples README shows, run for real: Python, LangChain, a parent workflow."""

from __future__ import annotations

import ast
import asyncio
import json
import sys
import uuid
from pathlib import Path

from temporalio.worker import Worker

from durable_approvals.langchain_tool import approval_tool
from durable_approvals.settings import Settings
from examples.parent_workflow import Cleanup, CleanupAgent
from tests.helpers import eventually, platform_client, running_worker, settings_env

ROOT = Path(__file__).resolve().parent.parent


def example_env(dev_env, settings: Settings, task_queue: str) -> dict[str, str]:
    return {**settings_env(dev_env.client, settings, task_queue), "APPROVAL_POLL_INTERVAL": "0.2"}


async def run_example(name: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples" / name), env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0
    return out.decode()


async def decide_next(settings: Settings, approved: bool) -> str:
    async def pending() -> str | None:
        async with platform_client(settings) as api:
            ids = [i["id"] for i in await api.list_approvals() if i["status"] == "pending"]
        return ids[0] if ids else None

    approval_id: str = await eventually(pending, timeout=60)
    async with platform_client(settings) as api:
        await api.decide(approval_id, approved=approved, decided_by="alice")
    return approval_id


async def test_ask_example_twice_gives_one_request_and_the_same_answer(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        env = example_env(dev_env, settings, task_queue)
        asking = asyncio.create_task(run_example("ask.py", env))
        approval_id = await decide_next(settings, approved=True)
        first = await asking
        second = await run_example("ask.py", env)  # "after a restart"
        async with platform_client(settings) as api:
            items = await api.list_approvals()
    answer = ast.literal_eval(first.strip())
    assert answer["approved"] is True and answer["approval_id"] == approval_id
    assert second == first and len(items) == 1


async def test_langchain_tool_has_the_reference_shape(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        tool = approval_tool(
            settings.model_copy(update={"temporal_task_queue": task_queue}), dev_env.client
        )
        assert tool.name == "request_approval"
        assert set(tool.args) == {"action", "reason", "args"}  # args: docs/policies/edits.md
        assert "Request human approval before proceeding" in tool.description
        asking = asyncio.create_task(tool.ainvoke({"action": "Send", "reason": "Weekly"}))
        approval_id = await decide_next(settings, approved=False)
        answer = await asking
        env = example_env(dev_env, settings, task_queue)
        from_example = asyncio.create_task(run_example("langchain_agent.py", env))
        await decide_next(settings, approved=True)
        printed = json.loads(await from_example)
        again = json.loads(await run_example("langchain_agent.py", env))  # "after a restart"
        async with platform_client(settings) as api:
            items = await api.list_approvals()
    assert answer == {
        "approved": False,
        "approval_id": approval_id,
        "decided_by": "alice",
        "message": "Denied by human",
        "status": "denied",
        "trace_id": answer["trace_id"],
        "decided_at": answer["decided_at"],
    }
    assert printed["approved"] is True and printed["decided_by"] == "alice"
    assert again == printed and len(items) == 2  # the tool's request and the example's one


async def start_agent(dev_env, settings, approvals_queue: str, agent_queue: str):
    """The example parent workflow, asking for approval through a child on ``approvals_queue``."""
    job = Cleanup(
        request=settings.approval_request("Drop db", "rebuild"),
        approvals_task_queue=approvals_queue,
    )
    return await dev_env.client.start_workflow(
        CleanupAgent.run, job, id=f"agent-{uuid.uuid4()}", task_queue=agent_queue
    )


async def test_parent_workflow_runs_approval_as_a_child(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as approvals_queue:
        agent_queue = f"agents-{uuid.uuid4()}"
        async with Worker(dev_env.client, task_queue=agent_queue, workflows=[CleanupAgent]):
            handle = await start_agent(dev_env, settings, approvals_queue, agent_queue)
            await decide_next(settings, approved=False)
            assert await asyncio.wait_for(handle.result(), 60) == "kept: Denied by human"
            children = [
                e
                async for e in handle.fetch_history_events()
                if e.HasField("child_workflow_execution_completed_event_attributes")
            ]
    assert len(children) == 1


async def test_cancelling_the_parent_expires_the_childs_request(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as approvals_queue:
        agent_queue = f"agents-{uuid.uuid4()}"
        async with Worker(dev_env.client, task_queue=agent_queue, workflows=[CleanupAgent]):
            handle = await start_agent(dev_env, settings, approvals_queue, agent_queue)

            async def pending() -> str | None:
                async with platform_client(settings) as api:
                    ids = [i["id"] for i in await api.list_approvals() if i["status"] == "pending"]
                return ids[0] if ids else None

            approval_id = await eventually(pending, timeout=60)
            await handle.cancel()

            async def expired() -> bool:
                async with platform_client(settings) as api:
                    item = await api.get_approval(approval_id)
                return item is not None and item["status"] == "expired"

            assert await eventually(expired, timeout=60)
