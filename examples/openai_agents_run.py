"""An OpenAI Agents SDK agent whose tool needs approval, from durable approvals. The model
is scripted (``ScriptedModel``: a ``drop_table`` call, then a report of its output), so
nothing goes to a network model; tracing is off.

    python examples/openai_agents_run.py STATE_FILE

The run state is saved to ``STATE_FILE`` before it asks: a process killed while it
waits, started again, resumes from it and asks for the same call ids, so it gets the
same approvals. Prints JSON lines ``waiting`` and ``result``.
"""

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from agents import Agent, Model, ModelResponse, Usage, function_tool, set_tracing_disabled
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from durable_approvals.agents.openai_agents import durable_tool, resume, run_with_approvals

ran: list[dict[str, Any]] = []


class ScriptedModel(Model):
    """First a ``drop_table`` call with a fresh call id, then the tool's output as text."""

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        items = args[1] if len(args) > 1 else kwargs["input"]
        outputs = [
            item["output"]
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]
        if not outputs:
            call = ResponseFunctionToolCall(
                type="function_call",
                call_id=f"call_{uuid.uuid4().hex[:24]}",
                name="drop_table",
                arguments=json.dumps({"table": "users", "dry_run": False}),
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(type="output_text", text=f"Done: {outputs[-1]}", annotations=[])
        message = ResponseOutputMessage(
            id="msg_1", type="message", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("scripted: no streaming")


@function_tool
def drop_table(table: str, dry_run: bool) -> str:
    """Drop a table of the staging database."""
    ran.append({"table": table, "dry_run": dry_run})
    return f"dropped {table}" + (" (dry run)" if dry_run else "")


def build_agent(tool: Any = None) -> Agent[Any]:
    return Agent(
        name="dba",
        instructions="Do what is asked.",
        model=ScriptedModel(),
        tools=[tool or durable_tool(drop_table)],
    )


def read_state(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


async def main(path: Path) -> None:
    set_tracing_disabled(True)
    agent = build_agent()
    saved = read_state(path)

    def keep(state: str) -> None:
        path.write_text(state)
        print(json.dumps({"event": "waiting"}), flush=True)

    if saved is None:
        result = await run_with_approvals(agent, "Drop the users table.", on_state=keep)
    else:
        print(json.dumps({"event": "waiting"}), flush=True)
        result = await resume(agent, saved, on_state=keep)
    print(json.dumps({"event": "result", "output": result.final_output, "ran": ran}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
