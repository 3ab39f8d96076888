"""The reference platform's [ext] vote items (N-of-M, docs/policies/n-of-m.md), and their
absence in strict mode: real servers on 127.0.0.1, real HTTP and WebSocket clients."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.platform_faults import FaultyPlatform
from tests.test_platform import create, decide, next_event, websocket
from tests.test_platform_strict import AUTH, TOKEN, item_of
from tests.test_platform_strict import websocket as strict_websocket


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
async def strict(tmp_path_factory):
    server = FaultyPlatform(
        tmp_path_factory.mktemp("strict") / "platform.db", token=TOKEN, strict=True
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def strict_http(strict):
    async with httpx.AsyncClient(base_url=strict.url, headers=AUTH, timeout=5.0) as client:
        yield client


async def item(client: httpx.AsyncClient, workspace: str, approval_id: str) -> dict[str, Any]:
    response = await client.get(f"/workspaces/{workspace}/approvals/{approval_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_vote_item_records_votes_and_stays_pending(http, server, workspace):
    approval_id = await create(http, workspace, requester="agent", approvals_required=2)
    async with websocket(server, workspace) as socket:
        first = await decide(http, workspace, approval_id, decision="approved", decided_by="alice")
        assert first.status_code == 200
        assert first.json() == {
            "status": "pending",
            "approval_id": approval_id,
            "vote": "approved",
            "votes": 1,
            "approvals_required": 2,
        }
        event = await next_event(socket)
        assert event["event"] == "APPROVAL_VOTED"
        assert event["payload"]["approval_id"] == approval_id
        assert (event["payload"]["decided_by"], event["payload"]["decision"]) == (
            "alice",
            "approved",
        )
        # the same decider's same answer is kept once: no second vote, no second event
        again = await decide(http, workspace, approval_id, decision="approved", decided_by="ALICE")
        assert again.json()["votes"] == 1
        # the requester is refused, as for a decision
        refused = await decide(
            http, workspace, approval_id, decision="approved", decided_by="Agent"
        )
        assert refused.status_code == 403
        second = await decide(http, workspace, approval_id, decision="denied", decided_by="bob")
        assert second.json()["votes"] == 2
        assert (await next_event(socket))["payload"]["decided_by"] == "bob"

    shown = await item(http, workspace, approval_id)
    assert (shown["status"], shown["approvals_required"]) == ("pending", 2)
    assert [(v["decided_by"], v["decision"]) for v in shown["votes"]] == [
        ("alice", "approved"),
        ("bob", "denied"),
    ]
    pending = (await http.get("/approvals/pending")).json()
    assert [p["votes"] for p in pending if p["id"] == approval_id] == [shown["votes"]]


async def test_a_vote_item_with_approvers_takes_votes_from_them_only(http, workspace):
    approval_id = await create(
        http, workspace, approvals_required=2, approvers=["Alice", "bob"], requester="agent"
    )
    refused = await decide(http, workspace, approval_id, decision="denied", decided_by="mallory")
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": "only the approval's approvers may vote on it",
            "reason": "not in approver group",
        },
    )
    taken = await decide(http, workspace, approval_id, decision="approved", decided_by=" alice ")
    assert taken.json()["votes"] == 1
    shown = await item(http, workspace, approval_id)
    assert shown["approvers"] == ["Alice", "bob"] and len(shown["votes"]) == 1
    assert shown["status"] == "pending"


async def test_final_closes_a_vote_item_as_a_decision(http, server, workspace):
    approval_id = await create(http, workspace, approvals_required=2)
    await decide(http, workspace, approval_id, decision="approved", decided_by="alice")
    await decide(http, workspace, approval_id, decision="approved", decided_by="bob")
    async with websocket(server, workspace) as socket:
        closed = await decide(
            http, workspace, approval_id, decision="approved", decided_by="bob", final=True
        )
        assert closed.json() == {"status": "approved", "approval_id": approval_id}
        assert (await next_event(socket))["event"] == "APPROVAL_APPROVED"
    shown = await item(http, workspace, approval_id)
    assert (shown["status"], shown["decided_by"], len(shown["votes"])) == ("approved", "bob", 2)
    late = await decide(http, workspace, approval_id, decision="approved", decided_by="carol")
    assert late.status_code == 404


async def test_a_final_the_stored_votes_do_not_decide_is_refused_and_changes_nothing(
    http, workspace
):
    """Issue 23: one vote of two, or a final naming someone who did not vote so, closes
    nothing; a stored denial decides a denial."""
    approval_id = await create(http, workspace, approvals_required=2)
    await decide(http, workspace, approval_id, decision="approved", decided_by="alice")
    refused = [
        await decide(http, workspace, approval_id, decided_by=by, decision=answer, final=True)
        for by, answer in (("alice", "approved"), ("bob", "approved"), ("alice", "denied"))
    ]
    assert {(r.status_code, r.json()["reason"]) for r in refused} == {(409, "votes-missing")}
    assert (await item(http, workspace, approval_id))["status"] == "pending"
    await decide(http, workspace, approval_id, decision="denied", decided_by="bob")
    denied = await decide(
        http, workspace, approval_id, decision="denied", decided_by="bob", final=True
    )
    assert denied.json() == {"status": "denied", "approval_id": approval_id}


async def test_a_plain_item_has_no_vote_fields_and_final_changes_nothing(http, workspace):
    approval_id = await create(http, workspace)
    assert "votes" not in await item(http, workspace, approval_id)
    response = await decide(
        http, workspace, approval_id, decision="approved", decided_by="alice", final=True
    )
    assert response.json() == {"status": "approved", "approval_id": approval_id}


async def test_strict_mode_ignores_approvals_required_one_decide_closes(
    strict_http, strict, workspace
):
    response = await strict_http.post(
        f"/workspaces/{workspace}/approvals", json={"action": "drop", "approvals_required": 2}
    )
    approval_id = response.json()["approval_id"]
    async with strict_websocket(strict, workspace) as socket:
        decided = await decide(
            strict_http, workspace, approval_id, decision="approved", decided_by="alice"
        )
        assert decided.json() == {"status": "approved", "approval_id": approval_id}
        assert (await next_event(socket))["event"] == "APPROVAL_APPROVED"
        with pytest.raises((TimeoutError, ConnectionClosed)):
            await next_event(socket)  # no APPROVAL_VOTED, ever
    shown = await item_of(strict_http, workspace, approval_id)
    assert shown["status"] == "approved" and "votes" not in shown
    assert "approvals_required" not in shown
