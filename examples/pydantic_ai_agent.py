"""A pydantic-ai agent whose tool requires approval, resolved by durable approvals. The
model is scripted (``FunctionModel``): it calls ``drop_table``, then reports the result.

    python examples/pydantic_ai_agent.py STATE_FILE

The run ends with ``DeferredToolRequests``; they are saved to ``STATE_FILE`` with the
messages before asking, so a process killed while it waits, started again, asks for the
same tool call ids: the same approvals. Prints JSON lines ``waiting`` and ``result``.
"""

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from durable_approvals.agents.pydantic_ai import resolve_approvals

REQUESTS = TypeAdapter(DeferredToolRequests)
ran: list[dict[str, Any]] = []


def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns = [p for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
    if not returns:
        call_id = f"call_{uuid.uuid4().hex[:24]}"  # random, as a real model's
        return ModelResponse(parts=[ToolCallPart("drop_table", {"table": "users"}, call_id)])
    return ModelResponse(parts=[TextPart(f"Done: {returns[-1].content}")])


agent = Agent(FunctionModel(script), output_type=[str, DeferredToolRequests])


@agent.tool_plain(requires_approval=True)
def drop_table(table: str, dry_run: bool = False) -> str:
    """Drop a table of the staging database."""
    ran.append({"table": table, "dry_run": dry_run})
    return f"dropped {table}" + (" (dry run)" if dry_run else "")


def load(state: Path) -> tuple[list[ModelMessage], DeferredToolRequests] | None:
    """The messages and requests of a run cut short, if ``state`` holds one."""
    if not state.exists():
        return None
    saved = json.loads(state.read_text())
    messages = ModelMessagesTypeAdapter.validate_python(saved["messages"])
    return messages, REQUESTS.validate_python(saved["requests"])


def save(state: Path, messages: list[ModelMessage], requests: DeferredToolRequests) -> None:
    saved = {
        "messages": ModelMessagesTypeAdapter.dump_python(messages, mode="json"),
        "requests": REQUESTS.dump_python(requests, mode="json"),
    }
    state.write_text(json.dumps(saved))


async def main(state: Path) -> None:
    cut_short = load(state)  # a run cut short: ask for the same calls again
    if cut_short is None:
        first = await agent.run("Drop the users table of staging.")
        if not isinstance(first.output, DeferredToolRequests):
            raise SystemExit(f"the model asked nothing: {first.output}")
        cut_short = first.all_messages(), first.output
        save(state, *cut_short)
    messages, requests = cut_short
    print(json.dumps({"event": "waiting", "calls": len(requests.approvals)}), flush=True)
    results = await resolve_approvals(requests)
    final = await agent.run(message_history=messages, deferred_tool_results=results)
    state.unlink(missing_ok=True)  # noqa: ASYNC240 - one small file, once
    print(json.dumps({"event": "result", "output": final.output, "ran": ran}), flush=True)


asyncio.run(main(Path(sys.argv[1])))
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
