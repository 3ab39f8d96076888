"""The reference platform against its contract: a real server on 127.0.0.1, real HTTP
and WebSocket clients, a SQLite file in tmp_path.

Most tests share one server (module scope) and isolate themselves with a fresh
workspace id; the ones that need their own configuration (auth, restart, the
CLI) start their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from durable_approvals.devstack.platform import PlatformServer, create_app
from durable_approvals.devstack.platform.hub import QUEUE_SIZE, Hub
from tests.platform_faults import Faults

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 10.0  # seconds any one test may take
ITEM_KEYS = {
    "id",
    "task_id",
    "action",
    "reason",
    "status",
    "decided_by",
    "decided_at",
    "created_at",
    "comment",
    # Extensions for the approvers' inbox (tests/test_inbox_platform.py).
    "requester",
    "expires_at",
    # Escalation and reminders (docs/policies/escalation.md).
    *("escalated_to", "escalated_at", "escalation_level", "reminders", "reminded_at"),
}
PENDING_KEYS = {
    *("id", "workspace_id", "workspace_name", "action", "reason", "status", "created_at"),
    *("requester", "expires_at"),
    *("escalated_to", "escalated_at", "escalation_level", "reminders", "reminded_at"),
}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as client:
        yield client


def websocket(server: PlatformServer, workspace: str, token: str | None = None) -> connect:
    headers = {"X-Workspace-ID": workspace}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return connect(f"ws://127.0.0.1:{server.port}/ws", additional_headers=headers, open_timeout=5)


async def next_event(socket: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(3):
        event: dict[str, Any] = json.loads(await socket.recv())
    return event


async def create(http: httpx.AsyncClient, workspace: str, **body: Any) -> str:
    body.setdefault("action", "drop table users")
    response = await http.post(f"/workspaces/{workspace}/approvals", json=body)
    assert response.status_code == 201, response.text
    approval_id: str = response.json()["approval_id"]
    return approval_id


async def decide(
    http: httpx.AsyncClient, workspace: str, approval_id: str, **body: Any
) -> httpx.Response:
    return await http.post(f"/workspaces/{workspace}/approvals/{approval_id}/decide", json=body)


async def expire(
    http: httpx.AsyncClient, workspace: str, approval_id: str, **kwargs: Any
) -> httpx.Response:
    # A state change is application/json even without a body (devstack/platform/doors.py).
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    url = f"/workspaces/{workspace}/approvals/{approval_id}/expire"
    return await http.post(url, headers=headers, **kwargs)


def assert_rfc3339_utc(value: str) -> None:
    assert value.endswith("Z"), value
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() == timedelta(0)


# --- create, list, get -----------------------------------------------------------------


async def test_create_replies_201_pending_and_the_item_has_the_contract_shape(http, workspace):
    async with asyncio.timeout(LIMIT):
        response = await http.post(
            f"/workspaces/{workspace}/approvals",
            json={"action": "deploy", "reason": "hotfix", "task_id": "t-1", "context": {"a": 1}},
        )
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"approval_id", "status"} and body["status"] == "pending"
        assert UUID4.match(body["approval_id"])

        item = (await http.get(f"/workspaces/{workspace}/approvals/{body['approval_id']}")).json()
        listed = (await http.get(f"/workspaces/{workspace}/approvals")).json()

    assert set(item) == ITEM_KEYS and listed == [item]
    assert item["id"] == body["approval_id"]
    assert (item["action"], item["reason"], item["task_id"]) == ("deploy", "hotfix", "t-1")
    assert item["status"] == "pending"
    assert item["decided_by"] is None and item["decided_at"] is None and item["comment"] is None
    assert_rfc3339_utc(item["created_at"])


async def test_optional_fields_are_null_when_absent(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace, action="restart")
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
    assert item["reason"] is None and item["task_id"] is None


async def test_get_is_404_for_unknown_ids_and_other_workspaces(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        unknown = await http.get(f"/workspaces/{workspace}/approvals/{uuid.uuid4()}")
        elsewhere = await http.get(f"/workspaces/other-{workspace}/approvals/{approval_id}")
    for response in (unknown, elsewhere):
        assert response.status_code == 404
        assert response.json() == {"error": "approval not found"}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b"null",
        b'{"reason": "no action"}',
        b'{"action": ""}',
        b'{"action": "   "}',
        b'{"action": 5}',
        b'{"action": null}',
        b'{"action": "x", "reason": 7}',
        b'{"action": "x", "context": "not an object"}',
    ],
)
async def test_create_rejects_a_bad_body_and_stores_nothing(http, workspace, content):
    async with asyncio.timeout(LIMIT):
        response = await http.post(
            f"/workspaces/{workspace}/approvals",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        listed = (await http.get(f"/workspaces/{workspace}/approvals")).json()
    assert response.status_code == 400
    assert response.json() == {"error": "invalid request body"}
    assert listed == []


async def test_list_holds_the_newest_50_newest_first(http, workspace):
    async with asyncio.timeout(LIMIT):
        created = [await create(http, workspace, action=f"step {n}") for n in range(55)]
        listed = (await http.get(f"/workspaces/{workspace}/approvals")).json()
    assert [item["id"] for item in listed] == created[::-1][:50]


async def test_pending_lists_open_requests_of_every_workspace(http, workspace):
    other = f"other-{workspace}"
    async with asyncio.timeout(LIMIT):
        mine = await create(http, workspace, reason="r1")
        theirs = await create(http, other)
        closed = await create(http, workspace)
        assert (await decide(http, workspace, closed, decision="denied")).status_code == 200
        response = await http.get("/approvals/pending")

    assert response.status_code == 200
    pending = response.json()
    assert len(pending) <= 50
    by_id = {item["id"]: item for item in pending}
    assert {mine, theirs} <= set(by_id) and closed not in by_id
    assert set(by_id[mine]) == PENDING_KEYS
    assert by_id[mine]["workspace_id"] == by_id[mine]["workspace_name"] == workspace
    assert by_id[theirs]["workspace_id"] == other
    assert by_id[mine]["status"] == "pending" and by_id[mine]["reason"] == "r1"


# --- Idempotency-Key -------------------------------------------------------------------


async def test_a_repeated_idempotency_key_returns_the_first_reply(http, workspace):
    url = f"/workspaces/{workspace}/approvals"
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    async with asyncio.timeout(LIMIT):
        first = await http.post(url, json={"action": "a"}, headers=key)
        second = await http.post(url, json={"action": "a"}, headers=key)
        other_workspace = await http.post(
            f"/workspaces/other-{workspace}/approvals", json={"action": "a"}, headers=key
        )
        listed = (await http.get(url)).json()

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert [item["id"] for item in listed] == [first.json()["approval_id"]]
    # Keys are per workspace: the same key elsewhere is a new request.
    assert other_workspace.json()["approval_id"] != first.json()["approval_id"]


async def test_concurrent_posts_with_one_key_make_one_request(http, workspace):
    url = f"/workspaces/{workspace}/approvals"
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    async with asyncio.timeout(LIMIT):
        replies = await asyncio.gather(
            *(http.post(url, json={"action": "a"}, headers=key) for _ in range(10))
        )
        listed = (await http.get(url)).json()
    assert {reply.status_code for reply in replies} == {201}
    assert len({reply.json()["approval_id"] for reply in replies}) == 1
    assert len(listed) == 1


# --- decide ----------------------------------------------------------------------------


async def test_first_decision_wins(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        first = await decide(
            http, workspace, approval_id, decision="approved", decided_by="alice", comment="ok"
        )
        second = await decide(http, workspace, approval_id, decision="denied", decided_by="bob")
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()

    assert first.status_code == 200
    assert first.json() == {"status": "approved", "approval_id": approval_id}
    assert second.status_code == 404
    assert second.json() == {"error": "approval not found or already decided"}
    assert (item["status"], item["decided_by"], item["comment"]) == ("approved", "alice", "ok")
    assert_rfc3339_utc(item["decided_at"])


async def test_concurrent_decisions_have_exactly_one_winner(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        replies = await asyncio.gather(
            *(
                decide(
                    http,
                    workspace,
                    approval_id,
                    decision="approved" if n % 2 else "denied",
                    decided_by=f"user-{n}",
                )
                for n in range(10)
            )
        )
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()

    winners = [reply for reply in replies if reply.status_code == 200]
    assert len(winners) == 1
    assert sorted(reply.status_code for reply in replies) == [200] + [404] * 9
    assert item["status"] == winners[0].json()["status"]


async def test_decided_by_defaults_to_human(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        assert (await decide(http, workspace, approval_id, decision="denied")).status_code == 200
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
    assert (item["status"], item["decided_by"]) == ("denied", "human")


@pytest.mark.parametrize("body", [{}, {"decision": "maybe"}, {"decision": "APPROVED"}])
async def test_decide_rejects_anything_but_approved_or_denied(http, workspace, body):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        response = await decide(http, workspace, approval_id, **body)
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
    assert response.status_code == 400
    assert response.json() == {"error": "decision must be 'approved' or 'denied'"}
    assert item["status"] == "pending"


async def test_decide_is_404_for_unknown_ids_and_other_workspaces(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        unknown = await decide(http, workspace, str(uuid.uuid4()), decision="approved")
        elsewhere = await decide(http, f"other-{workspace}", approval_id, decision="approved")
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
    for response in (unknown, elsewhere):
        assert response.status_code == 404
        assert response.json() == {"error": "approval not found or already decided"}
    assert item["status"] == "pending"


# --- expire ----------------------------------------------------------------------------


async def test_expire_closes_a_pending_request_idempotently(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        first = await expire(http, workspace, approval_id, json={"reason": "timed out"})
        again = await expire(http, workspace, approval_id)  # no body at all
        late = await decide(http, workspace, approval_id, decision="approved")
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()

    expected = {"status": "expired", "approval_id": approval_id}
    assert (first.status_code, first.json()) == (200, expected)
    assert (again.status_code, again.json()) == (200, expected)
    assert late.status_code == 404
    assert item["status"] == "expired" and item["decided_by"] is None


async def test_expire_after_a_decision_is_409_with_the_status(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        await decide(http, workspace, approval_id, decision="denied")
        response = await expire(http, workspace, approval_id, json={"reason": "too late"})
        item = (await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")).json()
    assert response.status_code == 409
    assert response.json() == {"error": "approval already decided", "status": "denied"}
    assert item["status"] == "denied"


async def test_expire_is_404_for_unknown_ids(http, workspace):
    async with asyncio.timeout(LIMIT):
        response = await expire(http, workspace, str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json() == {"error": "approval not found"}


# --- WebSocket -------------------------------------------------------------------------


async def test_socket_receives_the_events_of_its_workspace_only(server, http, workspace):
    other = f"other-{workspace}"
    async with (
        asyncio.timeout(LIMIT),
        websocket(server, workspace) as mine,
        websocket(server, other) as theirs,
    ):
        assert server.hub.connection_count(workspace) == 1
        await mine.send("clients may talk; the server ignores it")

        approved = await create(http, workspace, action="a1", reason="r1", task_id="t1")
        requested = await next_event(mine)
        await decide(http, workspace, approved, decision="approved", decided_by="al", comment="c")
        approval = await next_event(mine)
        denied = await create(http, workspace)
        await next_event(mine)
        await decide(http, workspace, denied, decision="denied")
        denial = await next_event(mine)
        expired = await create(http, workspace)
        await next_event(mine)
        await expire(http, workspace, expired)
        expiry = await next_event(mine)
        await expire(http, workspace, expired)  # already expired: no second event

        # The other socket got none of that: its first event is its own.
        own = await create(http, other)
        first_of_theirs = await next_event(theirs)

    assert requested["event"] == "APPROVAL_REQUESTED" and requested["workspace_id"] == workspace
    assert requested["payload"] == {
        "approval_id": approved,
        "action": "a1",
        "reason": "r1",
        "task_id": "t1",
    }
    assert_rfc3339_utc(requested["timestamp"])
    assert approval == {
        "event": "APPROVAL_APPROVED",
        "workspace_id": workspace,
        "timestamp": approval["timestamp"],
        "payload": {
            "approval_id": approved,
            "decision": "approved",
            "decided_by": "al",
            "comment": "c",
        },
    }
    assert denial["event"] == "APPROVAL_DENIED"
    assert denial["payload"] == {
        "approval_id": denied,
        "decision": "denied",
        "decided_by": "human",
        "comment": None,
    }
    assert expiry["event"] == "APPROVAL_EXPIRED" and expiry["payload"] == {"approval_id": expired}
    assert first_of_theirs["payload"]["approval_id"] == own


async def test_a_repeated_idempotency_key_broadcasts_nothing(server, http, workspace):
    url = f"/workspaces/{workspace}/approvals"
    async with asyncio.timeout(LIMIT), websocket(server, workspace) as socket:
        key = {"Idempotency-Key": "once"}
        await http.post(url, json={"action": "a"}, headers=key)
        await http.post(url, json={"action": "a"}, headers=key)
        marker = await create(http, workspace, action="marker")
        events = [await next_event(socket), await next_event(socket)]
    assert [e["payload"]["action"] for e in events] == ["a", "marker"]
    assert events[1]["payload"]["approval_id"] == marker


async def test_socket_without_workspace_header_is_refused_quietly(server, caplog):
    async with asyncio.timeout(LIMIT):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=5):
                pass
        await asyncio.sleep(0.05)  # let the server task finish its side
    assert refused.value.response.status_code == 400
    # A refusal is not a server error (uvicorn's sansio protocol used to log one).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_drop_all_closes_the_client_socket(server, workspace):
    async with asyncio.timeout(LIMIT), websocket(server, workspace) as socket:
        assert server.hub.connection_count(workspace) == 1
        assert await server.hub.drop_all() >= 1
        with pytest.raises(ConnectionClosed):
            await socket.recv()
        assert server.hub.connection_count(workspace) == 0


async def test_a_slow_socket_keeps_the_first_256_messages_and_drops_the_rest():
    class StuckSocket:
        def __init__(self) -> None:
            self.sent: list[str] = []
            self.release = asyncio.Event()

        async def send_text(self, data: str) -> None:
            await self.release.wait()
            self.sent.append(data)

        async def close(self, code: int = 1000, reason: str | None = None) -> None:
            pass

    hub = Hub()
    socket = StuckSocket()
    subscriber = hub.register("ws", socket)  # not started yet: nothing drains
    async with asyncio.timeout(LIMIT):
        taken = sum(hub.broadcast("ws", {"n": n}) for n in range(QUEUE_SIZE + 44))
        subscriber.start()
        socket.release.set()
        while len(socket.sent) < QUEUE_SIZE:
            await asyncio.sleep(0.01)
        await hub.unregister(subscriber)

    assert taken == QUEUE_SIZE and subscriber.dropped == 44
    assert [json.loads(text)["n"] for text in socket.sent] == list(range(QUEUE_SIZE))
    assert hub.connection_count() == 0


# --- faults ----------------------------------------------------------------------------


async def test_create_status_fault_replies_raw_and_stores_nothing(server, http, workspace):
    server.faults.create_status = 201
    server.faults.create_body = "<html>not json</html>"
    async with asyncio.timeout(LIMIT):
        response = await http.post(f"/workspaces/{workspace}/approvals", json={"action": "a"})
        server.faults.create_status = 500
        server.faults.create_body = None
        failed = await http.post(f"/workspaces/{workspace}/approvals", json={"action": "a"})
        server.faults.reset()
        listed = (await http.get(f"/workspaces/{workspace}/approvals")).json()
    assert response.status_code == 201 and response.text == "<html>not json</html>"
    assert response.headers["content-type"].startswith("application/json")
    assert failed.status_code == 500 and failed.content == b""
    assert listed == []


async def test_create_delay_fault_stores_first_and_replies_late(server, http, workspace):
    url = f"/workspaces/{workspace}/approvals"
    key = {"Idempotency-Key": "slow"}
    server.faults.create_delay_seconds = 1.0
    async with asyncio.timeout(LIMIT):
        with pytest.raises(httpx.ReadTimeout):
            await http.post(url, json={"action": "a"}, headers=key, timeout=0.2)
        stored = (await http.get(url)).json()  # the request is there although we timed out
        server.faults.create_delay_seconds = 0.0
        retry = await http.post(url, json={"action": "a"}, headers=key)
    assert len(stored) == 1
    assert retry.status_code == 201 and retry.json()["approval_id"] == stored[0]["id"]


async def test_refuse_websocket_fault_refuses_upgrades(server, workspace):
    server.faults.refuse_websocket = True
    async with asyncio.timeout(LIMIT):
        with pytest.raises(InvalidStatus) as refused:
            async with websocket(server, workspace):
                pass
        server.faults.refuse_websocket = False
        async with websocket(server, workspace):
            assert server.hub.connection_count(workspace) == 1
    assert refused.value.response.status_code == 503


async def test_no_fault_route_in_the_product(tmp_path):
    # Faults come in through the hooks (tests/platform_faults.py), never over HTTP.
    faults = Faults()
    app = create_app(tmp_path / "p.db", hooks=faults)
    transport = httpx.ASGITransport(app=app)
    async with asyncio.timeout(LIMIT), httpx.AsyncClient(transport=transport) as client:
        steer = await client.post("http://127.0.0.1/_faults", json={"refuse_websocket": True})
        drop = await client.post("http://127.0.0.1/_faults/drop-sockets", json={})
    assert (steer.status_code, drop.status_code) == (404, 404)
    assert faults == Faults()
    app.state.platform.store.close()


async def test_health_says_ok_and_nothing_else(server, http, workspace):
    # As upstream: no socket count (a benchmark counts in-process, bench/platform.py).
    async with asyncio.timeout(LIMIT), websocket(server, workspace):
        response = await http.get("/health")
        assert server.hub.connection_count(workspace) == 1
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# --- auth ------------------------------------------------------------------------------


async def test_with_a_token_every_route_but_health_needs_the_bearer(tmp_path):
    token = "s3cret-token"
    async with (
        asyncio.timeout(LIMIT),
        PlatformServer(tmp_path / "auth.db", token=token) as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
    ):
        approval_id = str(uuid.uuid4())
        calls = [
            ("POST", "/workspaces/w/approvals", {"action": "a"}),
            ("GET", "/workspaces/w/approvals", None),
            ("GET", f"/workspaces/w/approvals/{approval_id}", None),
            ("POST", f"/workspaces/w/approvals/{approval_id}/decide", {"decision": "approved"}),
            ("POST", f"/workspaces/w/approvals/{approval_id}/expire", {}),
            ("GET", "/approvals/pending", None),
        ]
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            for method, path, body in calls:
                response = await http.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"error": "unauthorized"}
        assert server.store.count() == 0
        assert (await http.get("/health")).json() == {"status": "ok"}

        for bad_token in (None, "wrong"):
            with pytest.raises(InvalidStatus) as refused:
                async with websocket(server, "w", token=bad_token):
                    pass
            assert refused.value.response.status_code == 401

        good = {"Authorization": f"Bearer {token}"}
        created = await http.post("/workspaces/w/approvals", json={"action": "a"}, headers=good)
        async with websocket(server, "w", token=token):
            assert server.hub.connection_count("w") == 1
    assert created.status_code == 201
    assert token not in repr(server)


# --- lifecycle -------------------------------------------------------------------------


async def test_state_survives_a_restart_on_the_same_file_and_port(tmp_path):
    db = tmp_path / "data" / "platform.db"  # the parent directory is created
    async with asyncio.timeout(LIMIT):
        first = PlatformServer(db)
        await first.start()
        port = first.port
        async with httpx.AsyncClient(base_url=first.url, timeout=5.0) as http:
            decided = await create(http, "w", action="keep me")
            await decide(http, "w", decided, decision="approved", decided_by="alice")
            pending = await create(http, "w")
        await first.stop()
        await first.stop()  # idempotent
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{first.url}/health")

        async with (
            PlatformServer(db, port=port) as second,
            httpx.AsyncClient(base_url=second.url, timeout=5.0) as http,
        ):
            assert second.port == port
            item = (await http.get(f"/workspaces/w/approvals/{decided}")).json()
            listed = (await http.get("/workspaces/w/approvals")).json()

        # The same object restarts too, on the port it bound the first time.
        await first.start()
        try:
            assert first.port == port
            async with httpx.AsyncClient(base_url=first.url, timeout=5.0) as http:
                response = await decide(http, "w", pending, decision="denied")
        finally:
            await first.stop()

    assert (item["status"], item["decided_by"], item["action"]) == ("approved", "alice", "keep me")
    assert [entry["id"] for entry in listed] == [pending, decided]
    assert response.status_code == 200


async def test_stop_is_quick_with_open_sockets(tmp_path):
    server = PlatformServer(tmp_path / "platform.db")
    await server.start()
    async with asyncio.timeout(LIMIT), websocket(server, "w") as one, websocket(server, "w") as two:
        assert server.hub.connection_count() == 2
        started = time.monotonic()
        await server.stop()
        elapsed = time.monotonic() - started
        for socket in (one, two):
            with pytest.raises(ConnectionClosed):
                await socket.recv()
    assert elapsed < 2.0


async def test_cli_serves_with_a_token_from_the_environment_and_exits_cleanly(tmp_path):
    token = "cli-secret-token"
    db = tmp_path / "nested" / "platform.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "durable_approvals.devstack.platform",
            "--port",
            "0",
            "--db",
            str(db),
        ],
        cwd=ROOT,
        env={**os.environ, "PLATFORM_AUTH_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with asyncio.timeout(LIMIT):
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert match, line
            async with httpx.AsyncClient(base_url=match.group(0), timeout=5.0) as http:
                health = await http.get("/health")
                anonymous = await http.get("/approvals/pending")
                authorized = await http.get(
                    "/approvals/pending", headers={"Authorization": f"Bearer {token}"}
                )
            process.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(process.wait, 5)
            rest, errors = await asyncio.to_thread(process.communicate)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert health.json()["status"] == "ok"
    assert anonymous.status_code == 401
    assert authorized.json() == []
    assert status == 0 and db.exists()
    assert token not in line + rest + errors
