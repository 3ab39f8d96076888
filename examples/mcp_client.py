"""An MCP client that asks through ``approvals-mcp`` over stdio: it starts the server
(settings from the environment), calls ``request_approval`` with a key, and prints the
answer. Run it again with the same key (after a crash, say) and it gets the same one.

    python examples/mcp_client.py [KEY]

Prints JSON lines: ``waiting``, a ``progress`` per notification, then ``result``.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters


async def progress(progress: float, total: float | None, message: str | None) -> None:
    print(json.dumps({"event": "progress", "message": message}), flush=True)


async def main(key: str) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "durable_approvals.agents.mcp_server", "--progress-every", "1"],
        env=dict(os.environ),
    )
    async with Client(server) as client:
        print(json.dumps({"event": "waiting", "key": key}), flush=True)
        result = await client.call_tool(
            "request_approval",
            {
                "action": "Drop the staging database",
                "reason": "It is rebuilt from the nightly snapshot",
                "args": {"db": "staging", "dry_run": False},
                "key": key,
            },
            progress_callback=progress,
        )
    print(json.dumps({"event": "result", "result": result.structured_content}), flush=True)


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "drop-staging-db"))
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
