"""The approvers' inbox page in a real headless Chromium (Debian's package).

Playwright drives ``/usr/bin/chromium`` through ``executable_path``; no browser
is ever downloaded (``scripts/ensure_chromium.sh`` installs the distribution
package in CI). A missing browser FAILS these tests: a skipped browser test
would let a broken page pass CI. Everything runs on 127.0.0.1: the real
reference platform, a real worker on the real Temporal dev server.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from pydantic import SecretStr

from durable_approvals.devstack.platform.approvers import Approvers, token_hash
from durable_approvals.devstack.platform.server import PlatformServer
from durable_approvals.models import ApprovalStatus
from tests.helpers import (
    PLATFORM_TOKEN,
    WORKSPACE,
    approval_request,
    audit_records,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 20_000  # generous: other jobs share this 2-core machine


@contextlib.asynccontextmanager
async def chromium(*args: str) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with ``CHROMIUM_ARGS`` and ``args``; fails (never
    skips) without the browser."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/ensure_chromium.sh)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *args]
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def fresh_tab(browser: Browser) -> AsyncIterator[Page]:
    """A tab in a context of its own: no cookie, storage or cache of another test's."""
    context = await browser.new_context()
    try:
        context.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One browser for the module (a launch per test cost seconds); each test gets a
    context of its own (``page``)."""
    async with chromium() as started:
        yield started


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_tab(browser) as tab:
        yield tab


def pending_row(page: Page, approval_id: str):
    return page.locator(f'#pending tbody tr[data-id="{approval_id}"]')


def history_row(page: Page, approval_id: str):
    return page.locator(f'#history tbody tr[data-id="{approval_id}"]')


async def test_a_click_on_approve_resumes_the_waiting_workflow(dev_env, settings, platform, page):
    request = approval_request(requester="agent-smith", timeout_seconds=3600)
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        await page.goto(f"{platform.url}/?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await expect(row.locator(".action")).to_have_text(request.action)
        await expect(row.locator(".reason")).to_have_text(request.reason)
        await expect(row.locator(".requester")).to_have_text("agent-smith")
        # An hour minus the few seconds since creation: "59m ..s" while the page is open.
        await expect(row.locator(".time-left")).to_have_text(re.compile(r"^59m \d+s$"))
        await expect(row.locator(".age")).to_have_text(re.compile(r"^\d+s$"))

        # The deadline as a clock time too, and "Drop" marks the row destructive.
        await expect(row.locator(".deadline")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
        await expect(row.locator(".destructive")).to_have_text("destructive")

        dialogs: list[str] = []

        async def confirm(dialog):
            dialogs.append(dialog.message)
            await dialog.accept()

        page.on("dialog", confirm)
        await page.fill("#approver-name", "Carol")
        await row.locator("textarea.comment").fill("checked the snapshot")
        await row.locator("button.approve").click()

        result = await finish(handle, "inbox_approved")

    assert dialogs == [f"Approve a destructive action?\n\n{request.action}"]
    assert result.status is ApprovalStatus.GRANTED and result.approved
    assert (result.approval_id, result.decided_by) == (approval_id, "Carol")
    assert result.comment == "checked the snapshot"
    await expect(pending_row(page, approval_id)).to_have_count(0)
    done = history_row(page, approval_id)
    await expect(done.locator(".status")).to_have_text("approved")
    await expect(done.locator(".decided-by")).to_have_text("Carol")
    await expect(done.locator(".comment")).to_have_text("checked the snapshot")


async def test_a_destructive_approve_asks_first_and_cancel_sends_nothing(
    dev_env, settings, platform, page
):
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("dialog", lambda dialog: dialog.dismiss())
    request = approval_request(action="Delete the audit bucket", timeout_seconds=3600)
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        await page.goto(f"{platform.url}/inbox?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await page.fill("#approver-name", "Erin")
        async with page.expect_event("dialog"):
            await row.locator("button.approve").click()
        await page.wait_for_timeout(500)  # nothing is sent: the row stays, the platform agrees
        await expect(row.locator("button.approve")).to_be_enabled()
        item = platform.store.get(WORKSPACE, approval_id)
        assert item is not None and item.status.value == "pending"
        await row.locator("button.deny").click()  # Deny does not ask
        result = await finish(handle, "inbox_destructive_denied")
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "Erin"
    assert errors == []  # no console error, the favicon included


async def test_a_request_made_after_the_page_opened_appears_live_and_can_be_denied(
    dev_env, settings, platform, page
):
    await page.goto(f"{platform.url}/inbox?workspace={WORKSPACE}")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#pending tbody tr[data-id]")).to_have_count(0)

    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(
            dev_env.client, task_queue, approval_request(action="Rotate the prod keys")
        )
        approval_id = await wait_pending(handle)
        row = pending_row(page, approval_id)  # no reload: the socket brought it
        await expect(row.locator(".action")).to_have_text("Rotate the prod keys")
        await expect(row.locator(".requester")).to_have_text("—")

        await page.fill("#approver-name", "Dana")
        await row.locator("button.deny").click()
        result = await finish(handle, "inbox_denied")

    assert result.status is ApprovalStatus.DENIED and not result.approved
    assert result.decided_by == "Dana"
    await expect(history_row(page, approval_id).locator(".status")).to_have_text("denied")


async def test_with_a_token_the_page_reads_and_listens_and_expired_moves_to_history(tmp_path, page):
    token = f"tok-{uuid.uuid4()}"
    workspace = "ws-inbox-auth"
    async with (
        PlatformServer(tmp_path / "auth.db", token=token) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0
        ) as http,
    ):
        first = await http.post(
            f"/workspaces/{workspace}/approvals",
            json={"action": "Old request", "requester": "bot", "timeout_seconds": 1},
        )
        first_id = first.json()["approval_id"]
        await page.goto(f"{server.url}/?workspace={workspace}&token={token}")
        await expect(page.locator("#connection")).to_have_text("live")
        # The token left the address bar (kept in sessionStorage for this tab only).
        assert token not in page.url and f"workspace={workspace}" in page.url
        row = pending_row(page, first_id)
        await expect(row.locator(".requester")).to_have_text("bot")
        await expect(row.locator(".time-left")).to_have_text("overdue")

        second = await http.post(f"/workspaces/{workspace}/approvals", json={"action": "Live one"})
        second_id = second.json()["approval_id"]
        await expect(pending_row(page, second_id).locator(".action")).to_have_text("Live one")

        expired = await http.post(
            f"/workspaces/{workspace}/approvals/{first_id}/expire", json={"reason": "timeout"}
        )
        assert expired.status_code == 200
        await expect(pending_row(page, first_id)).to_have_count(0)
        await expect(history_row(page, first_id).locator(".status")).to_have_text("expired")

        # The socket comes back after the platform drops it, and catches up by re-reading.
        await server.hub.drop_all()
        await http.post(f"/workspaces/{workspace}/approvals/{second_id}/expire", json={})
        await expect(history_row(page, second_id).locator(".status")).to_have_text("expired")
        await expect(page.locator("#connection")).to_have_text("live")


async def test_a_self_approval_click_shows_the_platforms_refusal_and_stays_pending(tmp_path, page):
    workspace = "ws-inbox-self"
    async with (
        PlatformServer(tmp_path / "self.db") as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
    ):
        created = await http.post(
            f"/workspaces/{workspace}/approvals",
            json={"action": "Grant me admin", "requester": "Eve"},
        )
        approval_id = created.json()["approval_id"]
        await page.goto(f"{server.url}/?workspace={workspace}")
        row = pending_row(page, approval_id)
        await expect(row.locator(".requester")).to_have_text("Eve")

        await page.fill("#approver-name", "eve")
        await row.locator("button.approve").click()

        # The reason stays on screen after the page re-reads the list.
        await expect(page.locator("#error")).to_have_text(
            "Refused: the requester cannot decide their own approval"
        )
        await expect(pending_row(page, approval_id).locator("button.approve")).to_be_enabled()
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
        assert item["status"] == "pending"


async def test_approve_with_edits_in_the_inbox_binds_the_edited_args(
    dev_env, settings, platform, page
):
    """docs/policies/edits.md: the page shows the args in an edit box, computes the action
    hash itself (RFC 8785 in JavaScript, SHA-256 by WebCrypto), and sends it with the
    edits; JSON that does not parse is refused on the page, edits the workflow's rule
    refuses come back as the platform's 409, and the agent gets the edited args."""
    from durable_approvals.action_hash import action_hash

    args = {"db": "staging", "dry_run": False, "note": "café ☕"}
    request = approval_request(action="Resize the staging cluster", args=args)
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        await page.goto(f"{platform.url}/?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await expect(row.locator(".action")).to_have_text(request.action)
        box = row.locator("textarea.args")
        await expect(box).to_have_value(re.compile(r'"dry_run": false'))
        hashed = action_hash(WORKSPACE, request.action, args)
        await expect(row.locator(".action-hash")).to_have_text(f"hash {hashed[:16]}")
        await page.fill("#approver-name", "Carol")

        await box.fill("{not json")
        await row.locator("button.approve").click()
        await expect(page.locator("#error")).to_have_text(re.compile("^The args are not JSON"))

        await box.fill('{"db": 7, "dry_run": true, "note": "café ☕"}')  # not the same shape
        await row.locator("button.approve").click()
        await expect(page.locator("#error")).to_have_text(
            "Refused: the decision does not match the approval's args (edit-invalid)"
        )
        await expect(row).to_have_count(1)  # still pending

        edited = {"note": "café ☕", "dry_run": True, "db": "staging"}
        await box.fill(json.dumps(edited, ensure_ascii=False))
        await row.locator("button.approve").click()
        result = await finish(handle, "inbox_approved_with_edits")

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "Carol"
    assert result.args == edited and result.edited is True
    assert result.action_hash == action_hash(WORKSPACE, request.action, edited)
    assert result.covers(request.action, edited) and not result.covers(request.action, args)
    done = history_row(page, approval_id)
    await expect(done.locator(".edited-args")).to_have_text(
        'approved with edits: {"db":"staging","dry_run":true,"note":"café ☕"}'
    )


async def test_a_two_approver_request_shows_1_of_2_until_the_second_vote(
    dev_env, settings, platform, page
):
    """N-of-M (docs/policies/n-of-m.md): each click is a vote on the [ext] vote item."""
    request = approval_request(
        action="Rotate the prod signing key",
        requester="agent-smith",
        timeout_seconds=3600,
        approvals_required=2,
    )
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        await page.goto(f"{platform.url}/?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await expect(row.locator(".votes")).to_have_text("0 of 2")
        await page.fill("#approver-name", "Carol")
        await row.locator("button.approve").click()
        await expect(row.locator(".votes")).to_have_text("1 of 2")
        await expect(row.locator(".votes")).to_have_attribute("title", "Approved by Carol")
        await expect(row.locator("button.approve")).to_be_enabled()  # still open for others

        await page.fill("#approver-name", "Dave")
        await row.locator("button.approve").click()
        result = await finish(handle, "inbox_two_approvers")

    assert result.status is ApprovalStatus.GRANTED
    assert (result.approvers, result.decided_by) == (["Carol", "Dave"], "Dave")
    await expect(pending_row(page, approval_id)).to_have_count(0)
    await expect(history_row(page, approval_id).locator(".decided-by")).to_have_text("Dave")


async def test_votes_on_a_request_with_args_name_its_hash_and_offer_no_edit_box(
    dev_env, settings, platform, page
):
    """Args with N-of-M (docs/policies/n-of-m.md): a vote item shows its args read-only
    (votes carry no edits) and each click sends the hash the page computes of them."""
    from durable_approvals.action_hash import action_hash

    args = {"db": "staging", "dry_run": False, "note": "café ☕"}
    request = approval_request(
        action="Resize the staging cluster",
        args=args,
        requester="agent-smith",
        timeout_seconds=3600,
        approvals_required=2,
    )
    hashed = action_hash(WORKSPACE, request.action, args)
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)

        await page.goto(f"{platform.url}/?workspace={WORKSPACE}")
        row = pending_row(page, approval_id)
        await expect(row.locator("pre.args-vote")).to_have_text(re.compile(r'"dry_run": false'))
        await expect(row.locator("textarea.args")).to_have_count(0)
        await expect(row.locator(".action-hash")).to_have_text(f"hash {hashed[:16]}")
        await page.fill("#approver-name", "Carol")
        await row.locator("button.approve").click()
        await expect(row.locator(".votes")).to_have_text("1 of 2")
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)
        assert item is not None and [v.get("action_hash") for v in item["votes"]] == [hashed]

        await page.fill("#approver-name", "Dave")
        await row.locator("button.approve").click()
        result = await finish(handle, "inbox_votes_with_args")

    assert result.status is ApprovalStatus.GRANTED
    assert (result.approvers, result.decided_by) == (["Carol", "Dave"], "Dave")
    assert result.covers(request.action, args) and result.edited is False


async def test_with_an_approvers_file_the_inbox_signs_in_and_decides_as_the_approver(
    dev_env, settings, page, tmp_path
):
    """docs/trust-model.md: no free-text name; the approver token (sessionStorage, never in
    the address) names the decider; the platform signs it and the workflow, which requires
    verified deciders, takes it with ``verified: true``."""
    (tmp_path / "approvers.yaml").write_text(
        f"approvers:\n  - name: Carol\n    token_sha256: {token_hash('carol-secret-7')}\n",
        encoding="utf-8",
    )
    platform = PlatformServer(
        tmp_path / "verified.db",
        token=PLATFORM_TOKEN,  # approvers need a workspace token
        approvers=Approvers.load(tmp_path / "approvers.yaml"),
        signing_key_path=tmp_path / "platform.key",
    )
    settings.rbac_config_path.write_text("require_verified_deciders: true\n", "utf-8")
    async with platform:
        settings = settings.model_copy(
            update={
                "platform_url": platform.url,
                "workspace_token": SecretStr(PLATFORM_TOKEN),
                "platform_verify_key": str(tmp_path / "platform.key.pub"),
            }
        )
        async with running_worker(dev_env.client, settings) as task_queue:
            handle = await start(dev_env.client, task_queue, approval_request(action="Rotate"))
            approval_id = await wait_pending(handle)
            await page.goto(f"{platform.url}/?workspace={WORKSPACE}&token={PLATFORM_TOKEN}")
            await expect(page.locator("#approver-form")).to_be_visible()
            await expect(page.locator("#approver-name")).to_be_hidden()
            row = pending_row(page, approval_id)
            await row.locator("button.approve").click()  # not signed in: nothing is sent
            await expect(page.locator("#error")).to_contain_text("Sign in")
            await page.fill("#approver-token", "wrong-token")
            await page.click("#approver-form button")
            await expect(page.locator("#error")).to_have_text("Unknown approver token.")
            await page.fill("#approver-token", "carol-secret-7")
            await page.click("#approver-form button")
            await expect(page.locator("#approver")).to_have_text("Carol")
            assert "carol-secret-7" not in page.url
            await row.locator("button.approve").click()
            result = await finish(handle, "inbox_verified_approver")
            done = history_row(page, approval_id)
            await expect(done.locator(".decided-by")).to_have_text("Carol")

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "Carol"
    assert audit_records(settings)[-1].get("verified") is True
