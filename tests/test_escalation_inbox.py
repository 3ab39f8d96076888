"""The approvers' inbox shows an escalated request with its reminders, in a real headless
Chromium, and a click on it still decides it (docs/policies/escalation.md)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from durable_approvals.models import ApprovalStatus
from tests.helpers import WORKSPACE, approval_request, finish, running_worker, start, wait_pending
from tests.test_inbox_browser import browser, page, pending_row  # noqa: F401 (fixtures)


async def test_the_inbox_shows_escalated_to_and_a_reminder_badge(
    dev_env,
    settings,
    platform,
    page,  # noqa: F811
):
    request = approval_request(
        requester="agent-smith",
        timeout_seconds=600,
        remind_every=1,
        escalate_after=2,
        escalate_to="oncall-leads",
    )
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        await page.goto(f"{platform.url}/?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await expect(row.locator(".reminders")).to_have_text(re.compile(r"^reminded \d+x$"))
        await expect(row.locator(".escalated")).to_have_text("escalated to oncall-leads")
        page.on("dialog", lambda dialog: dialog.accept())  # "Drop": destructive, confirm
        await page.fill("#approver-name", "Lead")
        await row.locator("button.approve").click()
        result = await finish(handle, "inbox_approved_after_escalation")

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "Lead"
    assert result.escalated_to == "oncall-leads"
    await expect(pending_row(page, approval_id)).to_have_count(0)
