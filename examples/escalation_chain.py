import asyncio
import os
import sys

from durable_approvals.client import request_approval

HOUR = float(os.environ.get("EXAMPLE_HOUR_SECONDS", 3600))  # the test runs it with 1 s


async def main() -> None:
    result = await request_approval(
        "Delete the prod-logs bucket",
        "Retention moved to the archive account",
        key="delete-prod-logs-bucket",
        timeout=4 * HOUR,  # the first deadline
        remind_every=HOUR,  # a reminder each hour while nobody answers
        escalate_after=2 * HOUR,  # then the on-call leads are asked too
        escalate_to="oncall-leads",
        on_timeout="escalate",  # at the deadline: escalate once more...
        escalation_timeout=3 * HOUR,  # ...and wait 3 more hours, then time out
    )
    print(result.as_tool_result())  # escalated_to says who else was asked


asyncio.run(main())
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown, which temporalio can abort (sdk-python#300)
