"""A LangChain 1.x agent (``create_agent``) whose ``drop_table`` tool needs approval,
answered by durable approvals through ``DurableApprovalMiddleware`` (the semantics of
``HumanInTheLoopMiddleware``: approve, edit, reject). The chat model is scripted
(``ScriptedChat``: a ``drop_table`` call, then a report of the tool's answer).

    python examples/langchain_middleware.py

Settings come from the environment. Prints JSON lines ``waiting`` and ``result``.
"""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from durable_approvals.agents.langchain_middleware import DurableApprovalMiddleware

ran: list[dict[str, Any]] = []


class ScriptedChat(BaseChatModel):
    """First a ``drop_table`` call with a fresh id, then the last tool answer as text."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        answers = [m for m in messages if isinstance(m, ToolMessage)]
        if answers:
            reply = AIMessage(content=f"Done: {answers[-1].text}")
        else:
            call = {
                "name": "drop_table",
                "args": {"table": "users", "dry_run": False},
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "tool_call",
            }
            reply = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=reply)])


@tool
def drop_table(table: str, dry_run: bool) -> str:
    """Drop a table of the staging database."""
    ran.append({"table": table, "dry_run": dry_run})
    return f"dropped {table}" + (" (dry run)" if dry_run else "")


def build_agent(
    middleware: DurableApprovalMiddleware | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> Any:
    return create_agent(
        ScriptedChat(),
        tools=[drop_table],
        middleware=[middleware or DurableApprovalMiddleware({"drop_table": True})],
        checkpointer=checkpointer or InMemorySaver(),
    )


async def run(agent: Any, thread_id: str, resume: bool = False) -> str:
    """Run (or, with ``resume``, go on with) the thread; the final answer."""
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    start = None if resume else {"messages": [HumanMessage("Drop the users table.")]}
    state = await agent.ainvoke(start, config, durability="sync")
    answer: str = state["messages"][-1].text
    return answer


async def main() -> None:
    print(json.dumps({"event": "waiting"}), flush=True)
    answer = await run(build_agent(), f"thread-{uuid.uuid4()}")
    print(json.dumps({"event": "result", "output": answer, "ran": ran}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
