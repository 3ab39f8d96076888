import asyncio
import os
import sys

from durable_approvals.langchain_tool import approval_tool


async def main() -> None:
    tool = approval_tool()  # name "request_approval", args action and reason
    # As an agent calls it (LangGraph's ToolNode does): the tool call's id, with the run's
    # thread id, is the approval key, so the same call after a restart gets the same answer.
    call = {
        "name": "request_approval",
        "args": {"action": "Send the newsletter", "reason": "Weekly issue"},
        "id": "call_newsletter_1",
        "type": "tool_call",
    }
    message = await tool.ainvoke(call, {"configurable": {"thread_id": "newsletter"}})
    print(message.content)  # {"approved": true, "approval_id": ..., "decided_by": ..., ...}


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
