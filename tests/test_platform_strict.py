"""The reference platform in strict mode: the upstream contract alone, every [ext] off.

A real strict server on 127.0.0.1 (one per module, a fresh workspace per test),
real HTTP and WebSocket clients. Each test proves one thing the strict platform
does differently from the reference one (``tests/test_platform.py``), because
production runs against the upstream platform, which has none of the
extensions. ``docs/platform-modes.md`` lists both modes side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from durable_approvals.devstack.platform import PlatformServer, create_app
from durable_approvals.devstack.platform.admin_routes import (
    STRICT_AUTO_DENIED_BY,
    STRICT_AUTO_DENY_SECONDS,
)
from durable_approvals.devstack.platform.app import STRICT_NOT_FOUND_BODY
from tests.platform_faults import Faults, FaultyPlatform
from tests.test_platform import create, decide, next_event

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 10.0  # seconds any one test may take
TOKEN = "strict-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTRACT_ITEM_KEYS = {
    *("id", "task_id", "action", "reason", "status"),
    *("decided_by", "decided_at", "created_at"),
}
CONTRACT_PENDING_KEYS = {
    *("id", "workspace_id", "workspace_name", "action", "reason", "status", "created_at"),
}
ENVELOPE_KEYS = {"event", "workspace_id", "timestamp", "payload"}


@pytest.fixture(scope="module")
async def strict_shared(tmp_path_factory):
    server = FaultyPlatform(
        tmp_path_factory.mktemp("strict") / "platform.db", token=TOKEN, strict=True
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def strict(strict_shared):
    yield strict_shared
    strict_shared.faults.reset()


@pytest.fixture
async def http(strict):
    """A client that sends the right bearer on every call."""
    async with httpx.AsyncClient(base_url=strict.url, headers=AUTH, timeout=5.0) as client:
        yield client


@pytest.fixture
async def anonymous(strict):
    """A client that sends no bearer."""
    async with httpx.AsyncClient(base_url=strict.url, timeout=5.0) as client:
        yield client


def websocket(
    server: PlatformServer,
    workspace: str | None,
    token: str | None = TOKEN,
    query: str = "",
) -> connect:
    headers = {}
    if workspace is not None:
        headers["X-Workspace-ID"] = workspace
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return connect(
        f"ws://127.0.0.1:{server.port}/ws{query}", additional_headers=headers, open_timeout=5
    )


async def listed(http: httpx.AsyncClient, workspace: str) -> list[dict[str, Any]]:
    response = await http.get(f"/workspaces/{workspace}/approvals")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def item_of(http: httpx.AsyncClient, workspace: str, approval_id: str) -> dict[str, Any]:
    """One approval read from the list (strict mode has no single-item route)."""
    (item,) = [i for i in await listed(http, workspace) if i["id"] == approval_id]
    return item


def assert_no_such_route(response: httpx.Response) -> None:
    """What the upstream's Gin router answers for a route or method it does not have."""
    assert response.status_code == 404, (response.request.url, response.text)
    assert response.text == STRICT_NOT_FOUND_BODY
    assert response.headers["content-type"].startswith("text/plain")


def backdate(db_path: Path, approval_id: str, seconds: float) -> None:
    """Make an approval look ``seconds`` old, from another connection to the file."""
    created = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")
    with contextlib.closing(sqlite3.connect(db_path, timeout=5)) as db, db:
        db.execute(
            "UPDATE approvals SET created_at = ? WHERE id = ?",
            (created.replace("+00:00", "Z"), approval_id),
        )


# --- configuration ---------------------------------------------------------------------


async def test_strict_mode_refuses_to_start_without_a_token(tmp_path):
    db = tmp_path / "never.db"
    for token in (None, ""):
        with pytest.raises(ValueError, match="token"):
            PlatformServer(db, token=token, strict=True)
        with pytest.raises(ValueError, match="token"):
            create_app(db, token, strict=True)
    assert not db.exists()  # refused before anything was opened

    # The default stays the reference platform.
    assert PlatformServer(db).strict is False
    app = create_app(db)
    assert app.state.platform.strict is False
    app.state.platform.store.close()


async def test_every_call_without_the_right_bearer_is_401(strict, anonymous, workspace):
    approval_id = str(uuid.uuid4())
    calls = [
        ("POST", f"/workspaces/{workspace}/approvals", {"action": "a"}),
        ("GET", f"/workspaces/{workspace}/approvals", None),
        ("POST", f"/workspaces/{workspace}/approvals/{approval_id}/decide", {"decision": "denied"}),
        ("GET", "/approvals/pending", None),
    ]
    before = strict.store.count()
    async with asyncio.timeout(LIMIT):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            for method, path, body in calls:
                response = await anonymous.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"error": "unauthorized"}
        for token in (None, "wrong"):
            with pytest.raises(InvalidStatus) as refused:
                async with websocket(strict, workspace, token=token):
                    pass
            assert refused.value.response.status_code == 401
        health = await anonymous.get("/health")
    assert strict.store.count() == before
    assert health.status_code == 200  # liveness needs no token, as upstream


# --- create and list -------------------------------------------------------------------


async def test_idempotency_key_is_ignored_and_every_post_creates_a_request(strict, http, workspace):
    url = f"/workspaces/{workspace}/approvals"
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    async with asyncio.timeout(LIMIT), websocket(strict, workspace) as socket:
        first = await http.post(url, json={"action": "a"}, headers=key)
        second = await http.post(url, json={"action": "a"}, headers=key)
        events = [await next_event(socket), await next_event(socket)]
        items = await listed(http, workspace)

    assert first.status_code == second.status_code == 201
    ids = [first.json()["approval_id"], second.json()["approval_id"]]
    assert ids[0] != ids[1]
    assert [item["id"] for item in items] == ids[::-1]
    assert [event["payload"]["approval_id"] for event in events] == ids


async def test_list_holds_the_newest_50_newest_first_in_the_contract_shape(http, workspace):
    async with asyncio.timeout(LIMIT):
        created = [await create(http, workspace, action=f"step {n}") for n in range(55)]
        items = await listed(http, workspace)
    assert [item["id"] for item in items] == created[::-1][:50]
    assert all(set(item) == CONTRACT_ITEM_KEYS for item in items)


async def test_pending_list_has_the_contract_shape(http, workspace):
    async with asyncio.timeout(LIMIT):
        mine = await create(http, workspace, reason="r1", requester="agent-7", timeout_seconds=60)
        response = await http.get("/approvals/pending")
    assert response.status_code == 200
    pending = response.json()
    assert len(pending) <= 50
    by_id = {item["id"]: item for item in pending}
    assert set(by_id[mine]) == CONTRACT_PENDING_KEYS
    assert by_id[mine]["workspace_id"] == by_id[mine]["workspace_name"] == workspace
    assert (by_id[mine]["status"], by_id[mine]["reason"]) == ("pending", "r1")


async def test_requester_and_deadline_are_ignored_and_the_requester_may_decide(http, workspace):
    async with asyncio.timeout(LIMIT):
        mine = await create(http, workspace, requester="alice", timeout_seconds=90)
        # Values the reference platform refuses (400) are ignored like any unknown field.
        odd = await create(http, workspace, requester=["not", "a", "name"], timeout_seconds=-5)
        response = await decide(http, workspace, mine, decision="approved", decided_by="Alice ")
        item = await item_of(http, workspace, mine)
        other = await item_of(http, workspace, odd)

    # No self-approval rule upstream: the requester's own decision counts.
    assert response.status_code == 200
    assert response.json() == {"status": "approved", "approval_id": mine}
    assert set(item) == set(other) == CONTRACT_ITEM_KEYS
    assert (item["status"], item["decided_by"]) == ("approved", "Alice ")
    assert other["status"] == "pending"


# --- routes the upstream does not have -------------------------------------------------


async def test_single_item_get_is_a_route_the_platform_does_not_have(http, anonymous, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        get = await http.get(f"/workspaces/{workspace}/approvals/{approval_id}")
        unknown = await http.get(f"/workspaces/{workspace}/approvals/{uuid.uuid4()}")
        # No route, so no auth check either: a 404 before any 401, as upstream.
        without_bearer = await anonymous.get(f"/workspaces/{workspace}/approvals/{approval_id}")
        # A method the route does not take is "no route" too (Gin answers no 405).
        wrong_method = await http.get(f"/workspaces/{workspace}/approvals/{approval_id}/decide")
    for response in (get, unknown, without_bearer, wrong_method):
        assert_no_such_route(response)


async def test_expire_is_a_route_the_platform_does_not_have(strict, http, workspace):
    async with asyncio.timeout(LIMIT), websocket(strict, workspace) as socket:
        approval_id = await create(http, workspace)
        await next_event(socket)
        with_reason = await http.post(
            f"/workspaces/{workspace}/approvals/{approval_id}/expire", json={"reason": "late"}
        )
        bare = await http.post(f"/workspaces/{workspace}/approvals/{approval_id}/expire")
        marker = await create(http, workspace, action="marker")
        after = await next_event(socket)  # no APPROVAL_EXPIRED before it
        item = await item_of(http, workspace, approval_id)
    for response in (with_reason, bare):
        assert_no_such_route(response)
    assert (after["event"], after["payload"]["approval_id"]) == ("APPROVAL_REQUESTED", marker)
    assert item["status"] == "pending"


async def test_fault_routes_and_the_inbox_page_are_absent(strict, http, anonymous):
    async with asyncio.timeout(LIMIT):
        steer = await http.post("/_faults", json={"refuse_websocket": True})
        drop = await http.post("/_faults/drop-sockets")
        page = await anonymous.get("/")
        inbox = await anonymous.get("/inbox")
    for response in (steer, drop, page, inbox):
        assert_no_such_route(response)
    assert strict.faults == Faults()


async def test_in_process_faults_still_work(strict, workspace):
    # The test harness steers faults through the platform's hooks, in both modes.
    strict.faults.refuse_websocket = True
    async with asyncio.timeout(LIMIT):
        with pytest.raises(InvalidStatus) as refused:
            async with websocket(strict, workspace):
                pass
    assert refused.value.response.status_code == 503


async def test_health_has_no_socket_count(strict, anonymous, workspace):
    async with asyncio.timeout(LIMIT), websocket(strict, workspace):
        response = await anonymous.get("/health")
    assert response.json() == {"status": "ok"}


# --- decide ----------------------------------------------------------------------------


async def test_a_second_decision_is_404_and_the_first_stands(http, workspace):
    async with asyncio.timeout(LIMIT):
        approval_id = await create(http, workspace)
        first = await decide(http, workspace, approval_id, decision="denied", decided_by="bob")
        second = await decide(http, workspace, approval_id, decision="approved")
        unknown = await decide(http, workspace, str(uuid.uuid4()), decision="approved")
        item = await item_of(http, workspace, approval_id)
    assert first.status_code == 200
    assert first.json() == {"status": "denied", "approval_id": approval_id}
    for response in (second, unknown):
        assert response.status_code == 404
        assert response.json() == {"error": "approval not found or already decided"}
    assert (item["status"], item["decided_by"]) == ("denied", "bob")


async def test_a_comment_is_neither_stored_nor_broadcast(strict, http, workspace):
    async with asyncio.timeout(LIMIT), websocket(strict, workspace) as socket:
        approval_id = await create(http, workspace)
        await next_event(socket)
        response = await decide(
            http, workspace, approval_id, decision="approved", decided_by="al", comment="fine"
        )
        event = await next_event(socket)
        # A comment the reference platform would refuse (control characters) is ignored too.
        odd_id = await create(http, workspace)
        await next_event(socket)
        odd = await decide(http, workspace, odd_id, decision="denied", comment="bad\x00text")
        item = await item_of(http, workspace, approval_id)

    assert response.status_code == odd.status_code == 200
    assert set(item) == CONTRACT_ITEM_KEYS
    assert event["payload"] == {
        "approval_id": approval_id,
        "decision": "approved",
        "decided_by": "al",
    }


# --- events ----------------------------------------------------------------------------


async def test_events_are_envelopes_and_every_socket_gets_every_workspace_s_events(
    strict, http, workspace
):
    other = f"other-{workspace}"
    async with (
        asyncio.timeout(LIMIT),
        websocket(strict, workspace) as mine,
        websocket(strict, other) as theirs,
    ):
        approval_id = await create(http, workspace, action="a1", reason="r1", task_id="t1")
        requested = [await next_event(mine), await next_event(theirs)]
        await decide(http, workspace, approval_id, decision="denied")
        denied = [await next_event(mine), await next_event(theirs)]

    for event in requested + denied:
        assert set(event) == ENVELOPE_KEYS
        assert event["workspace_id"] == workspace  # where it happened, not the socket's own
    assert requested[0] == requested[1]
    assert requested[0]["event"] == "APPROVAL_REQUESTED"
    assert requested[0]["payload"] == {
        "approval_id": approval_id,
        "action": "a1",
        "reason": "r1",
        "task_id": "t1",
    }
    assert denied[0] == denied[1]
    assert denied[0]["event"] == "APPROVAL_DENIED"
    assert denied[0]["payload"] == {
        "approval_id": approval_id,
        "decision": "denied",
        "decided_by": "human",
    }


async def test_the_socket_authenticates_by_headers_only(strict, workspace):
    async with asyncio.timeout(LIMIT):
        # The browser's way (query parameters) is the inbox's extension.
        with pytest.raises(InvalidStatus) as by_query:
            async with websocket(strict, None, token=None, query=f"?workspace=w&token={TOKEN}"):
                pass
        with pytest.raises(InvalidStatus) as workspace_by_query:
            async with websocket(strict, None, query=f"?workspace={workspace}"):
                pass
        async with websocket(strict, workspace):
            assert strict.hub.connection_count(workspace) == 1
    assert by_query.value.response.status_code == 401
    assert workspace_by_query.value.response.status_code == 400


# --- the upstream's lazy auto-deny -----------------------------------------------------


async def test_reading_the_pending_list_denies_requests_older_than_ten_minutes_silently(
    strict, http, workspace
):
    async with asyncio.timeout(LIMIT), websocket(strict, workspace) as socket:
        stale = await create(http, workspace, action="stale")
        young = await create(http, workspace, action="young")
        await next_event(socket)
        await next_event(socket)
        backdate(strict.db_path, stale, STRICT_AUTO_DENY_SECONDS + 5)
        backdate(strict.db_path, young, STRICT_AUTO_DENY_SECONDS - 60)

        before = await item_of(http, workspace, stale)  # a workspace read denies nothing
        pending = {item["id"] for item in (await http.get("/approvals/pending")).json()}
        late = await decide(http, workspace, stale, decision="approved")
        marker = await create(http, workspace, action="marker")
        after = await next_event(socket)  # no APPROVAL_DENIED before it
        stale_item = await item_of(http, workspace, stale)
        young_item = await item_of(http, workspace, young)

    assert before["status"] == "pending"
    assert stale not in pending and young in pending
    assert (stale_item["status"], stale_item["decided_by"]) == ("denied", STRICT_AUTO_DENIED_BY)
    assert stale_item["decided_at"] is not None
    assert young_item["status"] == "pending"
    assert late.status_code == 404
    assert (after["event"], after["payload"]["approval_id"]) == ("APPROVAL_REQUESTED", marker)


# --- the command line ------------------------------------------------------------------


def _run_cli(db: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "durable_approvals.devstack.platform",
            "--port",
            "0",
            "--db",
            str(db),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_cli_strict_needs_a_token_and_serves_the_upstream_contract(tmp_path):
    db = tmp_path / "cli.db"
    bare_env = {k: v for k, v in os.environ.items() if k != "PLATFORM_AUTH_TOKEN"}
    with_token = {**bare_env, "PLATFORM_AUTH_TOKEN": TOKEN}
    async with asyncio.timeout(120):  # two process starts: seconds each on a loaded machine
        refused = _run_cli(db, bare_env, "--strict")
        try:  # an import of FastAPI alone can take seconds on a loaded machine
            out, err = await asyncio.to_thread(refused.communicate, None, 60)
        finally:
            if refused.poll() is None:
                refused.kill()
                refused.communicate()

        process = _run_cli(db, with_token, "--strict")
        try:
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert match, line
            async with httpx.AsyncClient(base_url=match.group(0), timeout=5.0) as http:
                health = await http.get("/health")
                anonymous = await http.get("/workspaces/w/approvals")
                single = await http.get(f"/workspaces/w/approvals/{uuid.uuid4()}", headers=AUTH)
            process.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(process.wait, 5)
            rest, errors = await asyncio.to_thread(process.communicate)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert refused.returncode == 2 and out == ""
    assert "strict mode" in err and "token" in err
    assert "strict" in line
    assert health.json() == {"status": "ok"}
    assert anonymous.status_code == 401
    assert_no_such_route(single)
    assert status == 0
    assert TOKEN not in line + rest + errors
