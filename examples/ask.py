import asyncio
import os
import sys

from durable_approvals.client import request_approval


async def main() -> None:
    result = await request_approval(
        "Drop the staging database",
        "It is rebuilt from the nightly snapshot",
        key="drop-staging-db",  # asking again with this key returns the same answer
    )
    print(result.as_tool_result())


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
