"""The MCP server (durable_approvals.agents.mcp_server) through a real MCP client
session, over stdio and streamable HTTP: ``request_approval`` (progress while it waits,
the same key the same approval) and Claude Code's permission-prompt tool (allow with
the possibly edited input, deny with a message)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.agents_support import (
    BOUND,
    ROOT,
    Deployment,
    deployment,
    killed_and_resumed,
    process_env,
)
from tests.helpers import eventually

# The reference platform only: the adapter sees nothing but the Gate's answer, and the
# modes differ only in how a decision reaches the workflow, which the same Gate and the
# same ``Deployment.decide`` meet in both modes in tests/test_agents_guarded.py.
SERVER = ["-m", "durable_approvals.agents.mcp_server", "--progress-every", "0.3"]
CLI_SERVER = ["-m", "durable_approvals.cli", "mcp", "--progress-every", "0.3"]
"""The same server as ``approvals mcp``."""


@pytest.fixture
async def deployed(dev_env, settings, platform):
    async with deployment(dev_env.client, settings) as deployed:
        yield deployed


@contextlib.asynccontextmanager
async def stdio(
    deployed: Deployment, server: list[str] = SERVER, **env: str
) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=server, env=process_env(deployed, **env), cwd=ROOT
    )
    async with Client(params) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def http(deployed: Deployment) -> AsyncIterator[Client]:
    port = free_port()
    argv = [sys.executable, *SERVER, "--transport", "streamable-http", "--port", str(port)]
    server = subprocess.Popen(argv, cwd=ROOT, env=process_env(deployed), stderr=subprocess.DEVNULL)
    try:

        async def listening() -> bool:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return True

        await eventually(listening, timeout=BOUND)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            yield client
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 10)


def prompt_answer(result: Any) -> dict[str, Any]:
    """The permission prompt's answer: JSON in the first text content."""
    answer: dict[str, Any] = json.loads(result.content[0].text)
    return answer


DROP = {"action": "Drop the staging database", "reason": "Rebuilt nightly"}
ARGS = {"db": "staging", "dry_run": False}


async def test_request_approval_reports_progress_and_a_key_gives_one_approval(
    deployed, platform_mode
):
    beats: list[str | None] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        beats.append(message)

    key = f"key-{uuid.uuid4()}"
    async with stdio(deployed) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == {"request_approval", "approval_prompt"}
        call = {**DROP, "args": ARGS, "key": key}
        asking = asyncio.create_task(
            client.call_tool("request_approval", call, progress_callback=progress)
        )
        [approval_id] = await deployed.next_pending()
        await eventually(lambda: asyncio.sleep(0, beats), timeout=BOUND)
        assert (await deployed.decide(approval_id, edit={"dry_run": True})).accepted
        first = (await asyncio.wait_for(asking, BOUND)).structured_content
        again = (await client.call_tool("request_approval", call)).structured_content
    assert beats and "Drop the staging database" in str(beats[0])
    assert first["approved"] is True and first["approval_id"] == approval_id
    assert first["args"] == {"db": "staging", "dry_run": True} and first["edited"] is True
    assert again == first and len(await deployed.approvals()) == 1


async def test_request_approval_denied_through_approvals_mcp(deployed, platform_mode):
    async with stdio(deployed, CLI_SERVER) as client:
        asking = asyncio.create_task(client.call_tool("request_approval", DROP))
        [approval_id] = await deployed.next_pending()
        await deployed.decide(approval_id, approved=False)
        result = (await asyncio.wait_for(asking, BOUND)).structured_content
    assert result["approved"] is False and result["status"] == "denied"


async def test_permission_prompt_allows_edits_denies_and_refuses_other_args(
    deployed, platform_mode
):
    use = {"tool_name": "Bash", "input": {"command": "rm -rf build", "timeout": 60}}
    async with stdio(deployed) as client:
        edited = asyncio.create_task(
            client.call_tool("approval_prompt", {**use, "tool_use_id": f"toolu_{uuid.uuid4()}"})
        )
        [first] = await deployed.next_pending()
        verdict = await deployed.decide(first, bind_to={"command": "rm -rf /", "timeout": 60})
        assert not verdict.accepted and verdict.reason == "hash-mismatch"
        assert (await deployed.decide(first, edit={"command": "rm -rf build/tmp"})).accepted
        allowed = prompt_answer(await asyncio.wait_for(edited, BOUND))
        denied = asyncio.create_task(
            client.call_tool("approval_prompt", {**use, "tool_use_id": f"toolu_{uuid.uuid4()}"})
        )
        [second] = await deployed.next_pending(besides=(first,))
        await deployed.decide(second, approved=False, comment="not the build dir")
        refused = prompt_answer(await asyncio.wait_for(denied, BOUND))
    assert allowed == {
        "behavior": "allow",
        "updatedInput": {"command": "rm -rf build/tmp", "timeout": 60},
    }
    assert refused["behavior"] == "deny" and refused["message"].startswith("denied")


async def test_permission_prompt_times_out_to_deny(deployed, platform_mode):
    async with stdio(deployed, APPROVAL_TIMEOUT="2") as client:
        result = await asyncio.wait_for(
            client.call_tool("approval_prompt", {"tool_name": "Write", "input": {"path": "x"}}),
            BOUND,
        )
    answer = prompt_answer(result)
    assert answer["behavior"] == "deny" and answer["message"].startswith("timeout")


async def test_request_approval_times_out(deployed, platform_mode):
    async with stdio(deployed, APPROVAL_TIMEOUT="2") as client:
        result = await asyncio.wait_for(client.call_tool("request_approval", DROP), BOUND)
    answer = result.structured_content
    assert answer["approved"] is False and answer["status"] == "timeout"
    assert "Timed out" in answer["error"]


async def test_streamable_http_serves_both_tools(deployed, platform_mode):
    async with http(deployed) as client:
        prompting = asyncio.create_task(
            client.call_tool(
                "approval_prompt",
                {
                    "tool_name": "Write",
                    "input": {"path": "notes.md"},
                    "tool_use_id": f"toolu_{uuid.uuid4()}",
                },
            )
        )
        [approval_id] = await deployed.next_pending()
        assert (await deployed.decide(approval_id)).accepted
        allowed = prompt_answer(await asyncio.wait_for(prompting, BOUND))
        asking = asyncio.create_task(client.call_tool("request_approval", DROP))
        [second] = await deployed.next_pending(besides=(approval_id,))
        await deployed.decide(second, approved=False)
        denied = (await asyncio.wait_for(asking, BOUND)).structured_content
    assert allowed == {"behavior": "allow", "updatedInput": {"path": "notes.md"}}
    assert denied["approved"] is False


async def test_killed_client_resumes_on_the_same_approval(deployed, platform_mode):
    argv = ["examples/mcp_client.py", f"key-{uuid.uuid4()}"]
    result, approvals = await killed_and_resumed(deployed, argv, process_env(deployed))
    assert result["result"]["approved"] is True
    assert result["result"]["args"] == {"db": "staging", "dry_run": False}
    assert len(approvals) == 1
