import asyncio
import os
import sys

from approvals.langchain_tool import approval_tool


async def main() -> None:
    tool = approval_tool()  # name "request_approval", args action and reason
    answer = await tool.ainvoke({"action": "Send the newsletter", "reason": "Weekly issue"})
    print(answer)  # {"approved": True, "approval_id": ..., "decided_by": ..., "status": ...}


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
