"""A guarded tool: the function runs only when a human approves the call, and then with
the arguments approved (the approver may edit them). Settings come from the environment.

    python examples/guarded_tool.py [CALL_ID]

The call id keys the approval: run it again with the same id (after a crash, say) and
it waits for, or gets, the same answer. Prints JSON lines: ``waiting``, then ``result``.
"""

import asyncio
import json
import os
import sys
from typing import Any

from durable_approvals.agents.guarded import Refused, guarded


@guarded("Delete a user's files", reason="The user closed the account")
async def delete_files(user: str, dry_run: bool = False) -> dict[str, Any]:
    return {"deleted": user, "dry_run": dry_run}


async def main(call_id: str) -> None:
    print(json.dumps({"event": "waiting", "call_id": call_id}), flush=True)
    outcome = await delete_files.call(call_id, "bob")
    if isinstance(outcome, Refused):
        print(json.dumps({"event": "result", **outcome.as_tool_result()}))
    else:
        print(json.dumps({"event": "result", "approved": True, "ran": outcome}))


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "close-account-bob"))
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
