"""The example's LangChain agent with a file checkpointer, for the restart test in
tests/test_agents_langchain.py:

    python -m tests.langchain_middleware_agent CHECKPOINT_FILE THREAD_ID

Started on a new thread it asks; started again on a thread cut short while it waited,
it resumes from the checkpoint (the same tool call, hence the same approval). Prints
JSON lines ``waiting`` and ``result`` (the final answer and the tool's calls).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from langchain_core.runnables import RunnableConfig

from examples import langchain_middleware as example
from tests.langgraph_agent import FileSaver


async def main(checkpoint_file: Path, thread_id: str) -> None:
    agent = example.build_agent(checkpointer=FileSaver(checkpoint_file))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    resume = bool((await agent.aget_state(config)).next)
    print(json.dumps({"event": "waiting", "resumed": resume}), flush=True)
    answer = await example.run(agent, thread_id, resume=resume)
    print(json.dumps({"event": "result", "output": answer, "ran": example.ran}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
