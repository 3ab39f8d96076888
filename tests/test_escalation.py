"""Escalation and reminders on durable timers (docs/policies/escalation.md), on the
time-skipping server: a week-long chain, and a decision after the escalation. Both
platform modes: the reference platform shows reminders and escalations ([ext] routes),
the strict one has no such routes and the workflow audits them anyway.

The workers run the approval workflow and its short activities but no workspace
listener (a running activity would hold the test server's clock still).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from durable_approvals.activities.audit import AuditActivities
from durable_approvals.activities.platform_http import PlatformHttpActivities
from durable_approvals.activities.rbac import RbacActivities
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.audit_log import AuditLog
from durable_approvals.models import ApprovalStatus, ApprovalStatusView, Decision
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    finish,
    platform_client,
    start,
    wait_pending,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

DAY = 86_400
WEEK_CHAIN: dict[str, Any] = {
    "timeout_seconds": 4 * DAY,
    "remind_every": DAY,
    "escalate_after": 2 * DAY,
    "escalate_to": "oncall-leads",
    "on_timeout": "escalate",
    "escalation_timeout": 3 * DAY,
}


def policy_worker(client, settings, http, task_queue):
    access = PlatformAccess(settings, http)
    platform_calls = PlatformHttpActivities(access)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ApprovalWorkflow],
        max_cached_workflows=0,  # no sticky queue to hold the test server's clock
        activities=[
            RbacActivities(settings).check_permission,
            platform_calls.create_approval,
            platform_calls.read_decision,
            platform_calls.expire_approval,
            platform_calls.record_decision,
            platform_calls.remind_approval,
            platform_calls.escalate_approval,
            AuditActivities(AuditLog(settings.audit_log_path)).write_audit,
        ],
    )


def trail(settings) -> list[tuple[Any, ...]]:
    """(outcome, reminder or level, escalated_to) of each audit record."""
    return [
        (r["outcome"], r.get("reminder") or r.get("level"), r.get("escalated_to"))
        for r in audit_records(settings)
    ]


async def test_a_week_long_chain_reminds_escalates_twice_then_times_out(
    skipping_env, settings, platform
):
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with policy_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(skipping_env.client, task_queue, approval_request(**WEEK_CHAIN))
            result = await finish(handle, "week_chain_timeout", timeout=120)
        item = await api.get_approval(result.approval_id or "")
    history = await handle.fetch_history()
    waited = history.events[-1].event_time.ToDatetime() - history.events[0].event_time.ToDatetime()

    assert result.status is ApprovalStatus.TIMEOUT
    assert result.escalated_to == "oncall-leads" and result.escalated_at is not None
    assert result.error == f"Timed out after {float(7 * DAY)}s waiting for human decision"
    assert timedelta(days=7) <= waited < timedelta(days=7, hours=1)
    lead = "oncall-leads"
    assert trail(settings) == [
        ("requested", None, None),
        ("reminded", 1, None),
        ("escalated", 1, lead),
        ("reminded", 3, lead),
        ("escalated", 2, lead),
        ("reminded", 5, lead),
        ("reminded", 6, lead),
        ("timeout", None, lead),
    ]
    records = audit_records(settings)
    escalations = [r for r in records if r["outcome"] == "escalated"]
    assert [r["because"] for r in escalations] == ["escalate_after", "timeout"]
    shown = {
        r.get("shown_on_platform") for r in records if r["outcome"] in ("reminded", "escalated")
    }
    assert item is not None
    if platform.strict:  # no routes: audited anyway, noted as not shown; nothing [ext] stored
        assert shown == {False}
        assert "escalated_to" not in item and item["status"] == "pending"
    else:
        assert shown == {True}
        assert item["status"] == "expired"
        assert (item["escalated_to"], item["escalation_level"], item["reminders"]) == (
            lead,
            2,
            4,  # reminders 1, 3, 5 and 6
        )
        assert item["expires_at"].startswith(escalations[1]["deadline"][:16])


async def test_a_decision_after_the_escalation_is_taken_and_says_it_was_escalated(
    skipping_env, settings, platform
):
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with policy_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(skipping_env.client, task_queue, approval_request(**WEEK_CHAIN))
            approval_id = await wait_pending(handle)
            await skipping_env.sleep(timedelta(days=2, hours=1))

            async def escalated() -> ApprovalStatusView | None:
                view = await handle.query(ApprovalWorkflow.status)
                return view if view.escalations == 1 and len(audit_records(settings)) == 3 else None

            view = await eventually(escalated)
            await handle.signal(
                ApprovalWorkflow.decide,
                Decision(approval_id=approval_id, approved=True, decided_by="lead-on-call"),
            )
            result = await finish(handle, "week_chain_decided_after_escalation", timeout=60)
        item = await api.get_approval(approval_id)

    assert view.escalated_to == "oncall-leads" and view.escalated_at is not None
    assert view.next_reminder_at is not None and view.deadline is not None
    assert view.deadline - view.next_reminder_at == timedelta(days=1)  # day 3 of 4
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "lead-on-call"
    assert result.escalated_to == "oncall-leads"
    assert result.as_tool_result()["escalated_to"] == "oncall-leads"
    assert trail(settings) == [
        ("requested", None, None),
        ("reminded", 1, None),
        ("escalated", 1, "oncall-leads"),
        ("granted", None, "oncall-leads"),
    ]
    assert item is not None and item["status"] == "approved"
    assert item["decided_by"] == "lead-on-call"


async def test_cancelling_after_a_reminder_expires_the_request(skipping_env, settings, platform):
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with policy_worker(skipping_env.client, settings, api.http, task_queue):
            handle = await start(skipping_env.client, task_queue, approval_request(**WEEK_CHAIN))
            approval_id = await wait_pending(handle)
            await skipping_env.sleep(timedelta(days=1, hours=1))
            await eventually(lambda: _reminded(settings))
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await finish(handle, "week_chain_cancelled", timeout=60)
        item = await api.get_approval(approval_id)

    assert trail(settings) == [
        ("requested", None, None),
        ("reminded", 1, None),
        ("cancelled", None, None),
    ]
    assert item is not None
    assert item["status"] == ("pending" if platform.strict else "expired")


async def _reminded(settings) -> bool:
    return [r["outcome"] for r in audit_records(settings)][-1:] == ["reminded"]


@pytest.mark.reference_only("the platform being down is the same in both modes")
async def test_a_reminder_while_the_platform_is_down_is_audited_with_the_error(
    skipping_env, settings, platform
):
    task_queue = f"tq-{uuid.uuid4()}"
    async with (
        platform_client(settings) as api,
        policy_worker(skipping_env.client, settings, api.http, task_queue),
    ):
        handle = await start(skipping_env.client, task_queue, approval_request(**WEEK_CHAIN))
        approval_id = await wait_pending(handle)
        await platform.stop()
        await skipping_env.sleep(timedelta(days=1, hours=1))
        await eventually(lambda: _reminded(settings), timeout=60)
        await platform.start()
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="lead-on-call"),
        )
        result = await finish(handle, "week_chain_platform_down_at_reminder", timeout=60)

    reminded = audit_records(settings)[1]
    assert reminded["outcome"] == "reminded" and reminded["shown_on_platform"] is False
    assert "cannot reach the platform" in reminded["platform_error"]
    assert result.status is ApprovalStatus.GRANTED and result.escalated_to is None
