"""The LangChain tool as an agent meets it: the schema the model sees, failures as the
tool's result (never raised), and the approval key taken from the tool call."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from durable_approvals.client import workflow_id_for
from durable_approvals.langchain_tool import approval_key, approval_tool
from durable_approvals.models import ID_PATTERN, ApprovalResult
from durable_approvals.settings import Settings
from tests.helpers import WORKSPACE, eventually, platform_client, running_worker


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there now


def unreachable() -> Settings:
    return Settings(
        workspace_id=WORKSPACE,
        platform_url="http://127.0.0.1:9",
        temporal_address=f"127.0.0.1:{closed_port()}",
    )


def call(args: Any, call_id: str = "call_1") -> dict[str, Any]:
    return {"name": "request_approval", "args": args, "id": call_id, "type": "tool_call"}


def content(message: ToolMessage) -> dict[str, Any]:
    assert isinstance(message, ToolMessage)
    data: dict[str, Any] = json.loads(message.text)
    return data


def test_the_schema_the_model_sees():
    schema = convert_to_openai_tool(approval_tool(unreachable()))["function"]
    description, parameters = schema["description"], schema["parameters"]
    assert schema["name"] == "request_approval"
    assert description.startswith("Request human approval before proceeding")
    for leftover in ("Args:", "canvas", "\n", "  "):
        assert leftover not in description
    # tool_call_id is injected; args are optional (docs/policies/edits.md)
    assert set(parameters["properties"]) == {"action", "reason", "args"}
    assert parameters["required"] == ["action", "reason"]
    for name in ("action", "reason"):
        field = parameters["properties"][name]
        assert field["type"] == "string" and len(field["description"]) > 20, name
    assert "edits them" in parameters["properties"]["args"]["description"]
    assert parameters["properties"]["action"]["maxLength"] == 500


async def test_unreachable_temporal_is_the_failure_result():
    tool = approval_tool(unreachable())
    plain = await tool.ainvoke({"action": "Drop db", "reason": "rebuild"})
    from_agent = content(await tool.ainvoke(call({"action": "Drop db", "reason": "rebuild"})))
    sync = await asyncio.to_thread(tool.invoke, {"action": "Drop db", "reason": "rebuild"})
    for result in (plain, from_agent, sync):
        assert set(result) == {"approved", "status", "error"}, result
        assert result["approved"] is False and result["status"] == "failure"
        assert "cannot start the approval on Temporal at 127.0.0.1:" in result["error"]
        assert "TEMPORAL_ADDRESS" in result["error"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"action": "Drop db"}, "invalid arguments: reason: Field required"),
        ({"action": "", "reason": "r"}, "invalid arguments: action: String should have at least"),
        ({"action": "x" * 501, "reason": "r"}, "invalid arguments: action: String should have at"),
        ({"action": 42, "reason": "r"}, "invalid arguments: action: Input should be a valid str"),
        ({"action": "   ", "reason": "r"}, "invalid approval request: action: Value error, must"),
        ({"action": "Drop\x00db", "reason": "r"}, "invalid approval request: action: Value error"),
        ("Drop db", "invalid arguments: reason: Field required"),
    ],
)
async def test_bad_arguments_are_the_failure_result(args, expected):
    tool = approval_tool(unreachable())  # refused before Temporal is tried
    from_agent = content(await tool.ainvoke(call(args))) if isinstance(args, dict) else None
    for result in (await tool.ainvoke(args), from_agent):
        if result is not None:
            assert result["approved"] is False and result["status"] == "failure"
            assert result["error"].startswith(expected), result


async def test_settings_without_a_workspace_name_the_setting():
    tool = approval_tool(unreachable().model_copy(update={"workspace_id": ""}))
    result = await tool.ainvoke({"action": "Drop db", "reason": "rebuild"})
    assert result["status"] == "failure"
    assert result["error"].startswith("WORKSPACE_ID is not set: export WORKSPACE_ID=")


def test_the_key_is_the_tool_call_and_thread():
    key = approval_key("call_abc", "thread-1")
    assert key == approval_key("call_abc", "thread-1")
    assert key is not None and key.startswith("lc-call_abc-")
    others = {
        approval_key("call_abc"),
        approval_key("call_abc", "thread-2"),
        approval_key("call_abd", "thread-1"),
        approval_key("call/abc", "thread-1"),  # the same once made safe: the hash differs
        approval_key("call_abc", "thread-1"),
    }
    assert len(others) == 5
    for raw in ("call_abc", "toolu_01/é#?" * 30, "-leading"):
        made = approval_key(raw, "t" * 500)
        assert made is not None and re.fullmatch(ID_PATTERN, made), made
        assert re.fullmatch(ID_PATTERN, workflow_id_for(WORKSPACE, made)[:128])
    assert approval_key("") is None and approval_key("", "thread-1") is None


async def pending_ids(settings: Settings) -> list[str]:
    async with platform_client(settings) as api:
        return [i["id"] for i in await api.list_approvals() if i["status"] == "pending"]


async def test_one_tool_call_asked_twice_is_one_approval(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        tool = approval_tool(settings, dev_env.client)
        config = {"configurable": {"thread_id": "thread-7"}}
        args = {"action": "Send the newsletter", "reason": "Weekly"}
        asking = [asyncio.create_task(tool.ainvoke(call(args, "call_9"), config)) for _ in "ab"]
        [approval_id] = await eventually(lambda: pending_ids(settings), timeout=30)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="alice")
            approvals = await api.list_approvals()
        first, second = [content(m) for m in await asyncio.wait_for(asyncio.gather(*asking), 30)]
        handle = dev_env.client.get_workflow_handle(
            workflow_id_for(WORKSPACE, approval_key("call_9", "thread-7")),
            result_type=ApprovalResult,
        )
        recorded = await asyncio.wait_for(handle.result(), 30)
    assert len(approvals) == 1 and recorded.approval_id == approval_id
    assert first == second and first["approved"] is True and first["decided_by"] == "alice"


async def test_a_failed_workflow_is_the_failure_result(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        tool = approval_tool(settings, dev_env.client)
        asking = asyncio.create_task(tool.ainvoke(call({"action": "Drop", "reason": "r"}, "c-1")))
        await eventually(lambda: pending_ids(settings), timeout=30)
        workflow_id = workflow_id_for(WORKSPACE, approval_key("c-1"))
        await dev_env.client.get_workflow_handle(workflow_id).terminate("operator stopped it")
        result = content(await asyncio.wait_for(asking, 30))
    assert result["approved"] is False and result["status"] == "failure"
    assert result["error"].startswith(f"approval workflow {workflow_id} failed:")
    assert "terminated" in result["error"]


async def test_the_tool_takes_args_and_returns_the_edited_ones(dev_env, settings, platform):
    """docs/policies/edits.md: the model passes args; the approver edits them (CLI-style
    merge patch, through the platform's [ext] decide); the tool result carries the
    approved args and their hash, which the agent acts on."""
    from durable_approvals.action_hash import action_hash
    from durable_approvals.edits import bound_decision

    args = {"db": "staging", "dry_run": False}
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        tool = approval_tool(settings, dev_env.client)
        asking = asyncio.create_task(
            tool.ainvoke(call({"action": "Drop db", "reason": "rebuild", "args": args}, "c-args"))
        )
        [approval_id] = await eventually(lambda: pending_ids(settings), timeout=30)
        decision = bound_decision(
            workspace_id=WORKSPACE,
            action="Drop db",
            args=args,
            approval_id=approval_id,
            approved=True,
            decided_by="alice",
            edit={"dry_run": True},
        )
        async with platform_client(settings) as api:
            await api.decide(
                approval_id,
                approved=True,
                decided_by="alice",
                action_hash=decision.action_hash,
                edited_args=decision.edited_args,
            )
        result = content(await asyncio.wait_for(asking, 30))
    edited = {"db": "staging", "dry_run": True}
    assert result["approved"] is True and result["args"] == edited and result["edited"] is True
    assert result["action_hash"] == action_hash(WORKSPACE, "Drop db", edited)
    assert ApprovalResult.model_validate(result).covers("Drop db", edited)


async def test_args_that_are_not_json_are_the_failure_result():
    tool = approval_tool(unreachable())  # refused before Temporal is tried
    result = await tool.ainvoke(
        {"action": "Drop db", "reason": "r", "args": {"ratio": float("nan")}}
    )
    assert result["status"] == "failure"
    assert result["error"].startswith("invalid approval request: args: Value error"), result
