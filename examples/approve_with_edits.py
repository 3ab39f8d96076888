import asyncio
import os
import sys

from durable_approvals.client import request_approval

ACTION = "Drop the staging database"
ARGS = {"db": "staging", "dry_run": False}
SCHEMA = {  # what an approver's edits must satisfy
    "type": "object",
    "properties": {"db": {"enum": ["staging"]}, "dry_run": {"type": "boolean"}},
    "required": ["db", "dry_run"],
    "additionalProperties": False,
}


async def main() -> None:
    result = await request_approval(
        ACTION,
        "It is rebuilt from the nightly snapshot",
        key="drop-staging-db-with-args",
        args=ARGS,
        args_schema=SCHEMA,
    )
    args = result.args  # the approved args: the approver's edits, or ARGS as asked
    if result.covers(ACTION, args):  # just before acting: exactly what was approved?
        print(f"running {ACTION} with {args}")  # drop_database(**args)
    else:
        print(f"not running: {result.status.value}")


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
