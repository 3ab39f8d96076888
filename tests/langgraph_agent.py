"""A LangGraph agent that asks for approval, for tests/test_langgraph_restart.py.

    python -m tests.langgraph_agent CHECKPOINT_FILE THREAD_ID

A ``StateGraph`` of a scripted chat model (``FakeMessagesListChatModel``: first a
``request_approval`` tool call, then a final answer) and a ``ToolNode`` with
``approval_tool()`` (settings from the environment), checkpointed to
``CHECKPOINT_FILE`` after every step. Started on a thread with no checkpoint, it
asks; started again on a thread whose run was cut short, it resumes from the
checkpoint (input ``None``), as an agent restarted after a crash does.

The model's tool call id is random, as a real model's is: the resumed process can
only know it from the checkpoint. Prints one JSON object per line:
``{"event": "started" | "resumed", "next": [...]}``, ``{"event": "tool_calls",
"ids": [...]}`` when the model asks, ``{"event": "tool_start"}`` when the tool
runs, ``{"event": "tool_result", "result": {...}, "status": ...}`` with the tool's
result, ``{"event": "done", "answer": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from durable_approvals.langchain_tool import approval_tool

TASK = "Drop the staging database and rebuild it from the nightly snapshot."


class FileSaver(InMemorySaver):
    """``InMemorySaver`` whose storage is read from ``path`` at start and written back
    (whole, to a temporary file renamed over it) after every change: a process killed
    at any point leaves the last complete checkpoint. For tests; pickles its own file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.exists():
            storage, writes, blobs = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
            for thread_id, namespaces in storage.items():
                self.storage[thread_id].update(namespaces)
            self.writes.update(writes)
            self.blobs.update(blobs)

    def _save(self) -> None:
        storage = {thread_id: dict(spaces) for thread_id, spaces in self.storage.items()}
        data = pickle.dumps((storage, dict(self.writes), dict(self.blobs)))
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, self.path)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = super().put(config, checkpoint, metadata, new_versions)
        self._save()
        return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        super().put_writes(config, writes, task_id, task_path)
        self._save()

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        self._save()


def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def script() -> list[BaseMessage]:
    """What the model says, in order: a tool call with a fresh id, then the answer."""
    call = {
        "name": "request_approval",
        "args": {"action": "Drop the staging database", "reason": "Rebuilt nightly"},
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "tool_call",
    }
    return [AIMessage(content="", tool_calls=[call]), AIMessage(content="Done.")]


async def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
    # The script goes on from where the conversation is, as a model reading it would.
    said = sum(isinstance(message, AIMessage) for message in state["messages"])
    model = FakeMessagesListChatModel(responses=script()[said:])
    reply = await model.ainvoke(state["messages"])
    if isinstance(reply, AIMessage) and reply.tool_calls:
        emit(event="tool_calls", ids=[call["id"] for call in reply.tool_calls])
    return {"messages": [reply]}


class ToolStarts(AsyncCallbackHandler):
    async def on_tool_start(self, serialized: dict[str, Any], input_str: str, **_: Any) -> None:
        emit(event="tool_start")


def build(saver: FileSaver) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([approval_tool()]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=saver)


async def main(checkpoint_file: Path, thread_id: str) -> None:
    graph = build(FileSaver(checkpoint_file))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    snapshot = await graph.aget_state(config)
    if snapshot.values and not snapshot.next:
        raise SystemExit(f"thread {thread_id} has finished: nothing to resume")
    emit(event="resumed" if snapshot.next else "started", next=list(snapshot.next))
    start = None if snapshot.next else {"messages": [HumanMessage(TASK)]}
    run_config: RunnableConfig = {**config, "callbacks": [ToolStarts()]}
    async for update in graph.astream(start, run_config, stream_mode="updates", durability="sync"):
        for message in (update.get("tools") or {}).get("messages", []):
            assert isinstance(message, ToolMessage)
            emit(event="tool_result", result=json.loads(message.text), status=message.status)
    final = (await graph.aget_state(config)).values["messages"][-1]
    emit(event="done", answer=final.text)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
