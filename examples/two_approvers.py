import asyncio
import os
import sys

from durable_approvals.client import request_approval


async def main() -> None:
    result = await request_approval(
        "Delete the prod-eu-1 database",
        "Replaced by prod-eu-2; last backup restored and verified",
        key="delete-prod-eu-1",  # asking again with this key returns the same answer
        requester="cleanup-agent",  # never counts as an approver
        approvals_required=2,  # two distinct people must approve
        approver_group="prod-admins",  # and only members of this group count
    )
    if result.approved:
        print(f"approved by {', '.join(result.approvers or [])}")
    else:
        print(f"not approved ({result.status.value}): {result.error or result.message}")


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
