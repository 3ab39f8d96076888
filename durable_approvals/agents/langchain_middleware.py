"""LangChain 1.x agents (extra ``langchain``): a middleware with the semantics of
LangChain's ``HumanInTheLoopMiddleware`` (which tools need approval, which decisions are
allowed: approve, edit, reject), where the answer comes from a durable approval instead
of an interrupt the application resumes by hand (docs/agents.md).

Each gated tool call asks one approval keyed by its tool call id and the thread id, its
arguments the approval's args, and waits. Approved: the tool runs. Approved with edits
(where ``edit`` is allowed): it runs with the edited arguments, and the model is told.
Denied, timed out, or an edit where none is allowed: the tool does not run, and the
model gets a rejection ``ToolMessage`` (status ``error``) with the approver's message.
A checkpointed agent killed while it waits resumes at the same tool call: the same key,
the same approval. Async only (``ainvoke``, ``astream``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, InterruptOnConfig
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from durable_approvals.agents.guarded import Gate, Refused, call_key

KEY_PREFIX = "lcm"
EDIT_NOTICE = (
    "Note: a human approver edited this tool call before it ran; it ran with arguments {args}."
)
ALL_DECISIONS: InterruptOnConfig = {"allowed_decisions": ["approve", "edit", "reject"]}


class DurableApprovalMiddleware(AgentMiddleware[Any, Any, Any]):
    """``HumanInTheLoopMiddleware``'s ``interrupt_on``, answered by durable approvals."""

    def __init__(
        self,
        interrupt_on: dict[str, bool | InterruptOnConfig],
        *,
        gate: Gate | None = None,
        description_prefix: str = "Tool execution requires approval",
    ) -> None:
        super().__init__()
        self.interrupt_on: dict[str, InterruptOnConfig] = {
            name: ALL_DECISIONS if config is True else config
            for name, config in interrupt_on.items()
            if config is not False
        }
        self.gate = gate or Gate()
        self.description_prefix = description_prefix

    def _reason(self, request: ToolCallRequest, config: InterruptOnConfig) -> str:
        description = config.get("description")
        if isinstance(description, str):
            return description
        call = request.tool_call
        return f"{self.description_prefix}\n\nTool: {call['name']}\nArgs: {call['args']}"

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        call = request.tool_call
        config = self.interrupt_on.get(call["name"])
        when = None if config is None else config.get("when")
        if config is None or (when is not None and not when(request)):
            return await handler(request)
        allowed = config["allowed_decisions"]
        configurable = (request.runtime.config or {}).get("configurable") or {}
        thread = configurable.get("thread_id")
        key = None if not call["id"] else call_key(KEY_PREFIX, call["id"], str(thread))
        answer = await self.gate.ask(
            call["name"], dict(call["args"]), key=key, reason=self._reason(request, config)
        )
        if isinstance(answer, Refused):
            return _rejected(request, f"{answer.status.value}: {answer.message}")
        if not answer.edited:
            return await handler(request)
        if "edit" not in allowed:
            return _rejected(request, "approved only with edits, which this tool does not allow")
        edited = request.override(tool_call={**call, "args": answer.args})
        result = await handler(edited)
        if isinstance(result, ToolMessage) and isinstance(result.content, str):
            notice = EDIT_NOTICE.format(args=json.dumps(answer.args))
            return result.model_copy(update={"content": f"{notice}\n\n{result.content}"})
        return result


def _rejected(request: ToolCallRequest, reason: str) -> ToolMessage:
    call = request.tool_call
    return ToolMessage(
        content=f"User rejected the tool call for `{call['name']}` with reason: {reason}",
        name=call["name"],
        tool_call_id=call["id"] or "",
        status="error",
    )


__all__ = ["DurableApprovalMiddleware"]
