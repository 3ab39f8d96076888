"""The OpenAI Agents SDK (extra ``openai-agents``): tools that need approval get it from
durable approvals (docs/agents.md).

``run_with_approvals(agent, input)`` runs the agent; each time the run stops on
interruptions, each one becomes an approval keyed by its tool call id (its arguments
the approval's args), and is approved or rejected on the run state (the approver's
message as the rejection message) before the run resumes. ``on_state`` gets the
serialized run state before it asks: a process killed while it waits resumes with
``resume(agent, saved)``, which asks for the same call ids, so it waits for (or finds)
the same approvals. ``durable_tool(tool)`` marks a ``FunctionTool`` as needing approval
and makes it run with the approved arguments: an approver's edits apply to it, while a
plain ``needs_approval`` tool approved only with edits is rejected (it cannot take them).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

from agents import Agent, FunctionTool, Runner, RunResult, RunState, ToolApprovalItem
from agents.tool_context import ToolContext

from durable_approvals.agents.guarded import Approved, Gate, RefusalReason, Refused, call_key

KEY_PREFIX = "oai"


class _RunsApproved:
    """A tool's invoker that runs the tool with the arguments its approval approved."""

    def __init__(self, tool: FunctionTool, gate: Gate, scope: str | None) -> None:
        self.invoke = tool.on_invoke_tool
        self.name = tool.name
        self.gate = gate
        self.scope = scope

    async def __call__(self, ctx: ToolContext[Any], input_json: str) -> Any:
        args = json.loads(input_json or "{}")
        key = call_key(KEY_PREFIX, ctx.tool_call_id, self.scope)
        answer = await self.gate.ask(self.name, args, key=key)  # decided already: no wait
        if isinstance(answer, Refused):
            return f"not run: {answer.status.value}: {answer.message}"
        return await self.invoke(ctx, json.dumps(answer.args))


def durable_tool(
    tool: FunctionTool, gate: Gate | None = None, *, scope: str | None = None
) -> FunctionTool:
    """A copy of ``tool`` that needs approval and runs with the approved arguments."""
    guarded = copy.copy(tool)
    guarded.needs_approval = True
    guarded.on_invoke_tool = _RunsApproved(tool, gate or Gate(), scope)
    return guarded


def _takes_edits(agent: Agent[Any], name: str | None) -> bool:
    return any(
        isinstance(tool, FunctionTool)
        and tool.name == name
        and isinstance(tool.on_invoke_tool, _RunsApproved)
        for tool in agent.tools
    )


async def _ask(gate: Gate, item: ToolApprovalItem, scope: str | None) -> Approved | Refused:
    name = item.tool_name or item.name or "tool"
    if not item.call_id:
        return Refused(
            status=RefusalReason.FAILURE, message="the tool call has no call id", action=name
        )
    try:
        args = json.loads(item.arguments or "{}")
    except json.JSONDecodeError as error:
        return Refused(
            status=RefusalReason.FAILURE, message=f"arguments are not JSON: {error}", action=name
        )
    return await gate.ask(name, args, key=call_key(KEY_PREFIX, item.call_id, scope))


async def decide_interruptions(
    agent: Agent[Any],
    state: RunState[Any],
    interruptions: list[ToolApprovalItem],
    gate: Gate | None = None,
    *,
    scope: str | None = None,
) -> None:
    """Ask for every interruption at once; approve or reject each on ``state``."""
    gate = gate or Gate()
    answers = await asyncio.gather(*(_ask(gate, item, scope) for item in interruptions))
    for item, answer in zip(interruptions, answers, strict=True):
        if isinstance(answer, Refused):
            message = f"{answer.status.value}: {answer.message}"
            state.reject(item, rejection_message=message)
        elif answer.edited and not _takes_edits(agent, item.tool_name):
            message = "approved only with edits, which this tool cannot apply (durable_tool)"
            state.reject(item, rejection_message=message)
        else:
            state.approve(item)


async def run_with_approvals(
    agent: Agent[Any],
    input: str | list[Any] | RunState[Any],
    *,
    gate: Gate | None = None,
    on_state: Callable[[str], None] | None = None,
    scope: str | None = None,
    **run_options: Any,
) -> RunResult:
    """``Runner.run`` until the run ends without interruptions, each resolved durably."""
    gate = gate or Gate()
    result = await Runner.run(agent, input, **run_options)
    while result.interruptions:
        state = result.to_state()
        if on_state is not None:
            on_state(state.to_string())
        await decide_interruptions(agent, state, result.interruptions, gate, scope=scope)
        result = await Runner.run(agent, state, **run_options)
    return result


async def resume(
    agent: Agent[Any],
    saved: str,
    *,
    gate: Gate | None = None,
    on_state: Callable[[str], None] | None = None,
    scope: str | None = None,
    **run_options: Any,
) -> RunResult:
    """Resume a run from a state ``on_state`` saved: its interruptions attach to the same
    approvals (same call ids), then the run goes on as in ``run_with_approvals``."""
    gate = gate or Gate()
    state: RunState[Any] = await RunState.from_string(agent, saved)
    await decide_interruptions(agent, state, state.get_interruptions(), gate, scope=scope)
    return await run_with_approvals(
        agent, state, gate=gate, on_state=on_state, scope=scope, **run_options
    )


__all__ = ["decide_interruptions", "durable_tool", "resume", "run_with_approvals"]
