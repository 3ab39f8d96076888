"""Door 1 (issue 23): a web page the approver happens to visit, in real Chromium, changes
nothing on the platform: not by ``fetch(..., {mode: "no-cors"})`` with ``text/plain``, not by
a ``<form enctype="text/plain">``, not by a WebSocket from its origin, and not by DNS
rebinding. On the default stack (closed: a generated workspace token), with verified
deciders, and on an open platform where the doors (devstack/platform/doors.py) hold alone.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Route

from durable_approvals.devstack.platform.server import PlatformServer
from tests.test_inbox_browser import chromium, fresh_tab
from tests.test_stack import WORKSPACE as STACK_WORKSPACE
from tests.test_stack import Stack

REBIND_HOST = "rebind.test"
"""A DNS name Chromium resolves to 127.0.0.1 (``--host-resolver-rules``): DNS rebinding."""
NO_PRIVATE_NETWORK_CHECKS = (
    "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
    "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks"
)
"""Chromium's own guard against public names reaching loopback, off: other browsers (and
older Chromiums) have none, and the platform must not rely on it."""

ATTACK = """
async ([base, workspace, ids]) => {
  const out = { socket: "never opened", events: [] };
  await new Promise((resolve) => {
    const ws = new WebSocket(base.replace("http", "ws") + "/ws?workspace=" + workspace);
    ws.onopen = () => { out.socket = "open"; };
    ws.onmessage = (message) => out.events.push(message.data);
    ws.onclose = () => resolve();
    setTimeout(() => { ws.close(); resolve(); }, 1500);
  });
  const item = (id) => base + "/workspaces/" + workspace + "/approvals/" + id;
  const post = (url, body) => fetch(url, {
    method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify(body),
  }).then(() => "sent", (error) => "failed: " + error);
  out.decide = await post(item(ids.fetched) + "/decide",
                          { decision: "approved", decided_by: "mallory" });
  out.expire = await post(item(ids.expired) + "/expire", { reason: "gone" });
  out.remind = await post(item(ids.noticed) + "/remind", { reminder: 1 });
  out.escalate = await post(item(ids.noticed) + "/escalate",
                            { escalated_to: "mallory-group", level: 1 });
  await new Promise((resolve) => {  // the form's body is JSON: name '{"decision"...' + '=' + value
    const frame = document.createElement("iframe");
    frame.name = "sink";
    document.body.appendChild(frame);
    const form = document.createElement("form");
    form.method = "POST";
    form.enctype = "text/plain";
    form.target = "sink";
    form.action = item(ids.formed) + "/decide";
    const field = document.createElement("input");
    field.name = '{"decision":"approved","decided_by":"mallory","padding":"';
    field.value = '"}';
    form.appendChild(field);
    document.body.appendChild(form);
    frame.onload = () => resolve();
    form.submit();
    setTimeout(resolve, 5000);
  });
  return out;
}
"""

REBIND = """
async ([workspace, id]) => {
  const out = {};
  const listed = await fetch("/workspaces/" + workspace + "/approvals");
  out.list = listed.status;
  out.listed = listed.ok ? (await listed.text()).length : 0;
  const decided = await fetch("/workspaces/" + workspace + "/approvals/" + id + "/decide", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ decision: "approved", decided_by: "mallory" }),
  });
  out.decide = decided.status;
  return out;
}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One browser for the module, in which ``rebind.test`` resolves to 127.0.0.1."""
    rules = f"--host-resolver-rules=MAP {REBIND_HOST} 127.0.0.1"
    async with chromium(rules, NO_PRIVATE_NETWORK_CHECKS) as started:
        yield started


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab in a context of its own."""
    async with fresh_tab(browser) as tab:
        yield tab


async def _open_attacker_page(page: Page, origin: str) -> None:
    """The hostile page: served (by Playwright) at ``origin``, another origin than the
    platform's, and loopback, so Chromium's private-network rules play no part."""

    async def serve(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/html", body="<p>cute cats</p>")

    await page.route(f"{origin}/attack.html", serve)
    await page.goto(f"{origin}/attack.html")


async def _items(http: httpx.AsyncClient, workspace: str) -> dict[str, str]:
    ids = {}
    for name in ("fetched", "formed", "expired", "noticed"):
        body = {"action": f"drop {name}", "reason": "issue 23"}
        created = await http.post(f"/workspaces/{workspace}/approvals", json=body)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["approval_id"]
    return ids


async def _assert_untouched(
    http: httpx.AsyncClient, workspace: str, ids: dict[str, str], seen: dict[str, Any]
) -> None:
    assert seen["socket"] == "never opened" and seen["events"] == [], seen
    for approval_id in ids.values():
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
        assert (item["status"], item["decided_by"]) == ("pending", None), item
        assert (item.get("reminders") or 0, item.get("escalated_to")) == (0, None), item


async def _attack(page: Page, base: str, workspace: str, ids: dict[str, str]) -> dict[str, Any]:
    await _open_attacker_page(page, f"http://localhost:{_free_port()}")
    seen: dict[str, Any] = await page.evaluate(ATTACK, [base, workspace, ids])
    return seen


@pytest.mark.parametrize("extra_args", [(), ("--verified-deciders",)], ids=["default", "verified"])
async def test_a_page_of_another_origin_changes_nothing_on_the_stack(
    tmp_path: Path, page: Page, extra_args: tuple[str, ...]
) -> None:
    """The README's stack as a user runs it: closed by default, with or without verified
    deciders; the page cannot decide, expire, remind, escalate nor listen."""
    data_dir = tmp_path / "data"
    token_file = data_dir / "workspace.token"
    async with Stack(data_dir, extra_args=extra_args) as stack:
        token = token_file.read_text().strip() if token_file.exists() else ""
        base = f"http://127.0.0.1:{stack.platform_port}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as http:
            ids = await _items(http, STACK_WORKSPACE)
            seen = await _attack(page, base, STACK_WORKSPACE, ids)
            await _assert_untouched(http, STACK_WORKSPACE, ids, seen)
        assert await stack.stop() == 0
    assert token and token not in "".join(stack.output)  # closed by default, token unsaid
    modes = {
        path.relative_to(data_dir).as_posix(): path.stat().st_mode & 0o777
        for path in (data_dir, *data_dir.rglob("*"))
        if not path.is_symlink()
    }
    assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}
    assert modes["workspace.token"] == modes["platform.db"] == modes["temporal.db"] == 0o600
    assert modes["logs/platform.log"] == 0o600 and modes["logs"] == modes["."] == 0o700


async def test_on_an_open_platform_the_doors_alone_refuse_another_origin(
    tmp_path: Path, page: Page
) -> None:
    """``--open`` (no token): Origin, Content-Type and the socket's Origin check hold alone."""
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    server = PlatformServer(tmp_path / "open.db")
    async with server, httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        ids = await _items(http, workspace)
        seen = await _attack(page, server.url, workspace, ids)
        await _assert_untouched(http, workspace, ids, seen)


async def test_dns_rebinding_reads_and_decides_nothing(tmp_path: Path, page: Page) -> None:
    """A page at ``rebind.test:<port>`` that resolves to the platform is same-origin to
    itself: only the ``Host`` check stands between it and an open platform."""
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    server = PlatformServer(tmp_path / "open.db")
    async with server, httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        ids = await _items(http, workspace)
        await _open_attacker_page(page, f"http://{REBIND_HOST}:{server.port}")
        seen = await page.evaluate(REBIND, [workspace, ids["fetched"]])
        item = (await http.get(f"/workspaces/{workspace}/approvals/{ids['fetched']}")).json()
    assert seen == {"list": 403, "listed": 0, "decide": 403}
    assert item["status"] == "pending"


async def test_the_inbox_is_never_framed_by_another_page(tmp_path: Path, page: Page) -> None:
    """Clickjacking: another origin's page frames the inbox; Chromium refuses to show it
    (``X-Frame-Options: DENY``, CSP ``frame-ancestors 'none'``)."""
    server = PlatformServer(tmp_path / "open.db")
    async with server:
        await _open_attacker_page(page, f"http://localhost:{_free_port()}")
        await page.evaluate(
            """(url) => new Promise((resolve) => {
                 const frame = document.createElement("iframe");
                 frame.onload = () => resolve();
                 frame.src = url;
                 document.body.appendChild(frame);
                 setTimeout(resolve, 5000);
               })""",
            f"{server.url}/inbox",
        )
        framed = [frame for frame in page.frames if frame is not page.main_frame]
        shown = [await frame.locator("#pending").count() for frame in framed]
    assert len(framed) == 1 and shown == [0], [frame.url for frame in framed]
