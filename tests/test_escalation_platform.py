"""The reference platform's [ext] remind and escalate routes (docs/policies/escalation.md),
over HTTP and the socket; strict mode answers them with Gin's 404."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers import PLATFORM_TOKEN, start_platform
from tests.test_platform import create, http, next_event, websocket  # noqa: F401 (fixture)

LIMIT = 10.0


async def test_a_reminder_is_shown_once_per_number(server, http, workspace):  # noqa: F811
    async with asyncio.timeout(LIMIT), websocket(server, workspace) as socket:
        approval_id = await create(http, workspace, requester="agent")
        assert (await next_event(socket))["event"] == "APPROVAL_REQUESTED"
        url = f"/workspaces/{workspace}/approvals/{approval_id}/remind"
        first = await http.post(url, json={"reminder": 1})
        again = await http.post(url, json={"reminder": 1})
        second = await http.post(url, json={"reminder": 3})
        events = [await next_event(socket), await next_event(socket)]
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()

    assert [r.status_code for r in (first, again, second)] == [200, 200, 200]
    assert first.json() == {
        "approval_id": approval_id,
        "status": "pending",
        "escalated_to": None,
        "reminders": 1,
    }
    assert [(e["event"], e["payload"]["reminder"]) for e in events] == [
        ("APPROVAL_REMINDED", 1),
        ("APPROVAL_REMINDED", 3),  # the repeated 1 sent nothing
    ]
    assert item["reminders"] == 2 and item["reminded_at"] is not None  # shown: 1 and 3


async def test_an_escalated_approval_stays_decidable_and_its_parent_hears_of_it(
    server,
    http,  # noqa: F811
    workspace,
):
    parent = f"{workspace}-parent"
    async with (
        asyncio.timeout(LIMIT),
        websocket(server, workspace) as socket,
        websocket(server, parent) as parent_socket,
    ):
        approval_id = await create(http, workspace, timeout_seconds=60)
        await next_event(socket)
        url = f"/workspaces/{workspace}/approvals/{approval_id}/escalate"
        deadline = "2030-01-01T00:00:00Z"
        body = {"escalated_to": parent, "level": 1, "expires_at": deadline}
        escalated = await http.post(url, json=body)
        repeated = await http.post(url, json=body)
        event = await next_event(socket)
        parent_event = await next_event(parent_socket)
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
        pending = (await http.get("/approvals/pending")).json()
        decided = await http.post(
            f"/workspaces/{workspace}/approvals/{approval_id}/decide",
            json={"decision": "approved", "decided_by": "lead"},
        )
        late = await http.post(url, json={"escalated_to": parent, "level": 2})
        late_reminder = await http.post(
            f"/workspaces/{workspace}/approvals/{approval_id}/remind", json={"reminder": 9}
        )

    assert (escalated.status_code, escalated.json()["status"]) == (200, "escalated")
    assert repeated.status_code == 200
    assert event == parent_event and event["event"] == "APPROVAL_ESCALATED"
    assert event["workspace_id"] == workspace
    assert (event["payload"]["escalated_to"], event["payload"]["level"]) == (parent, 1)
    assert (item["status"], item["escalated_to"], item["escalation_level"]) == (
        "escalated",
        parent,
        1,
    )
    assert item["expires_at"] == "2030-01-01T00:00:00.000000Z"
    assert approval_id in [p["id"] for p in pending]
    assert decided.status_code == 200
    # closed: the contract's 404 with its error text (the workflow notes "not shown")
    assert (late.status_code, late.json()) == (
        404,
        {"error": "approval not found or already decided"},
    )
    assert late_reminder.status_code == 404


async def test_an_escalated_approval_can_be_expired(server, http, workspace):  # noqa: F811
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        base = f"/workspaces/{workspace}/approvals/{approval_id}"
        await http.post(f"{base}/escalate", json={"escalated_to": "leads", "level": 1})
        expired = await http.post(f"{base}/expire", json={"reason": "timeout"})
        unknown = await http.post(
            f"/workspaces/{workspace}/approvals/no-such/remind", json={"reminder": 1}
        )
    assert (expired.status_code, expired.json()["status"]) == (200, "expired")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "approval not found"})


@pytest.mark.parametrize("route", ["remind", "escalate"])
async def test_strict_mode_has_no_such_routes(tmp_path, route):
    server = await start_platform(tmp_path / "strict.db", "strict")
    try:
        headers = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=5.0) as client:
            approval_id = await create(client, "ws-strict")
            response = await client.post(
                f"/workspaces/ws-strict/approvals/{approval_id}/{route}",
                json={"reminder": 1, "escalated_to": "leads", "level": 1},
            )
            item = (await client.get("/workspaces/ws-strict/approvals")).json()[0]
    finally:
        await server.stop()
    assert (response.status_code, response.text) == (404, "404 page not found")
    assert item["status"] == "pending" and "escalated_to" not in item and "reminders" not in item
