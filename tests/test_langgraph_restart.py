"""A LangGraph agent (ToolNode + a checkpointer, tests/langgraph_agent.py) is SIGKILLed
while its request_approval tool waits for the human, then started again on the same
thread: it resumes from the checkpoint, the same tool call attaches to the same
approval, and the human's answer reaches it. One request on the platform."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from durable_approvals.client import workflow_id_for
from durable_approvals.langchain_tool import approval_key
from durable_approvals.models import ApprovalResult
from tests.helpers import eventually, platform_client, running_worker, settings_env

ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # seconds for any one step: a process starting, a request appearing, a result


async def start_agent(env: dict[str, str], checkpoint: Path, thread_id: str):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.langgraph_agent",
        str(checkpoint),
        thread_id,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )


async def next_event(agent: asyncio.subprocess.Process, event: str) -> dict[str, Any]:
    """Read the agent's JSON lines until ``event``; fail if it ends or takes too long."""
    assert agent.stdout is not None
    while True:
        line = await asyncio.wait_for(agent.stdout.readline(), BOUND)
        assert line, f"agent exited (rc {await agent.wait()}) before {event!r}"
        data: dict[str, Any] = json.loads(line)
        if data["event"] == event:
            return data
        assert data["event"] != "tool_result", f"tool returned before the decision: {data}"


async def test_killed_agent_resumes_on_the_same_approval(dev_env, settings, platform, tmp_path):
    # The worker runs in this process: the agent is what is killed and started again.
    checkpoint, thread_id = tmp_path / "checkpoints.pickle", f"thread-{uuid.uuid4()}"
    agents: list[asyncio.subprocess.Process] = []
    async with running_worker(dev_env.client, settings) as task_queue:
        env = settings_env(dev_env.client, settings, task_queue)
        try:
            agents.append(first := await start_agent(env, checkpoint, thread_id))
            assert (await next_event(first, "started"))["next"] == []
            [tool_call_id] = (await next_event(first, "tool_calls"))["ids"]
            await next_event(first, "tool_start")

            async def pending() -> str | None:
                async with platform_client(settings) as api:
                    items = await api.list_approvals()
                ids = [i["id"] for i in items if i["status"] == "pending"]
                return ids[0] if ids else None

            approval_id = await eventually(pending, timeout=BOUND)
            first.kill()  # SIGKILL: no cleanup, the tool call still waiting
            await asyncio.wait_for(first.wait(), BOUND)

            agents.append(second := await start_agent(env, checkpoint, thread_id))
            assert (await next_event(second, "resumed"))["next"] == ["tools"]
            await next_event(second, "tool_start")  # the same tool call, run again
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="alice")
            result = (await next_event(second, "tool_result"))["result"]
            done = await next_event(second, "done")
            assert await asyncio.wait_for(second.wait(), BOUND) == 0

            key = approval_key(tool_call_id, thread_id)
            workflow_id = workflow_id_for(settings.workspace_id, key)
            handle = dev_env.client.get_workflow_handle(workflow_id, result_type=ApprovalResult)
            recorded = await asyncio.wait_for(handle.result(), BOUND)
            async with platform_client(settings) as api:
                approvals = await api.list_approvals()
        finally:
            for agent in agents:
                if agent.returncode is None:
                    agent.kill()
                    await agent.wait()

    assert [item["id"] for item in approvals] == [approval_id]
    assert result["approved"] is True and result["status"] == "granted"
    assert result["decided_by"] == "alice" and result["approval_id"] == approval_id
    assert recorded.approval_id == approval_id and recorded.decided_by == "alice"
    assert done["answer"] == "Done."
