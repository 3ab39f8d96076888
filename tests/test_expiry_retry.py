"""The expiry keeps trying until the platform answers (EXPIRE_RETRY_FOR), so a request
that timed out is closed on the platform too, and a later click there changes nothing.

The platform is down for about ten seconds from the deadline: longer than the old
three attempts (about 3 s), far shorter than EXPIRE_RETRY_FOR. Both modes.
"""

from __future__ import annotations

import asyncio

import pytest

from durable_approvals.models import DECIDE_SIGNAL, ApprovalStatus, Decision
from durable_approvals.platform_client import PlatformError
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

TIMEOUT = 3
DOWN_FOR = 14.0


async def test_the_expiry_outlasts_a_platform_outage_at_the_deadline(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=TIMEOUT))
        approval_id = await wait_pending(handle)
        await platform.stop()  # connection refused, before the deadline and well after it
        try:
            await asyncio.sleep(TIMEOUT)  # the timer has fired: the expiry is retrying
            # a click sent to the workflow meanwhile is late, and audited so
            await handle.signal(
                DECIDE_SIGNAL, Decision(approval_id=approval_id, approved=True, decided_by="alice")
            )
            await asyncio.sleep(DOWN_FOR - TIMEOUT)
        finally:
            await platform.start()
        result = await finish(handle, "expiry_outlasts_outage", timeout=60)

        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)
            if platform.strict:  # no expire route: the click is taken there, and audited late
                await api.decide(approval_id, approved=True, decided_by="bob")
                await eventually(lambda: _late_refusals(settings, approval_id, 2), timeout=30)
            else:
                with pytest.raises(PlatformError):  # expired: a click there is refused
                    await api.decide(approval_id, approved=True, decided_by="bob")

    assert result.status is ApprovalStatus.TIMEOUT
    assert item is not None
    assert item["status"] == ("pending" if platform.strict else "expired")
    records = [r for r in audit_records(settings) if r.get("approval_id") == approval_id]
    late = [r["decided_by"] for r in records if r.get("rejected_because") == "late"]
    assert late == (["alice", "bob"] if platform.strict else ["alice"])
    # alice's click came after the wait had closed: its record follows the outcome's
    assert [r["outcome"] for r in records][:4] == ["requested", "timeout", "rejected"] + (
        ["rejected"] if platform.strict else []
    )


async def _late_refusals(settings, approval_id: str, count: int) -> bool:
    records = audit_records(settings)
    late = [r for r in records if r.get("approval_id") == approval_id and r.get("via")]
    return sum(1 for r in late if r.get("rejected_because") == "late") >= count
