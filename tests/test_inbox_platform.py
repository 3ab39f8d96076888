"""Platform behaviour behind the inbox page, over real HTTP/WS on 127.0.0.1.

Requester and deadline stored and returned, an old database file upgraded in
place, the page served, and the browser's ways to open the socket (query
parameters instead of headers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from datetime import datetime, timedelta

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from durable_approvals.devstack.platform.server import PlatformServer

LIMIT = 30
TOKEN = "inbox-token-123"

# The first schema of the platform, before requester/expires_at existed.
OLD_SCHEMA = """
CREATE TABLE approvals (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    workspace_id    TEXT    NOT NULL,
    task_id         TEXT,
    action          TEXT    NOT NULL,
    reason          TEXT,
    context         TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending',
    decided_by      TEXT,
    decided_at      TEXT,
    comment         TEXT,
    created_at      TEXT    NOT NULL,
    idempotency_key TEXT,
    UNIQUE (workspace_id, idempotency_key)
);
"""


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def test_requester_and_deadline_are_stored_and_returned(tmp_path):
    async with (
        asyncio.timeout(LIMIT),
        PlatformServer(tmp_path / "p.db") as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
        connect(f"ws://127.0.0.1:{server.port}/ws?workspace=w", open_timeout=5) as socket,
    ):
        response = await http.post(
            "/workspaces/w/approvals",
            json={"action": "deploy", "reason": "r", "requester": "agent-7", "timeout_seconds": 90},
        )
        assert response.status_code == 201
        approval_id = response.json()["approval_id"]
        item = (await http.get(f"/workspaces/w/approvals/{approval_id}")).json()
        assert item["requester"] == "agent-7"
        assert parse(item["expires_at"]) - parse(item["created_at"]) == timedelta(seconds=90)
        listed = (await http.get("/workspaces/w/approvals")).json()
        assert [(i["id"], i["requester"]) for i in listed] == [(approval_id, "agent-7")]
        pending = (await http.get("/approvals/pending")).json()
        assert pending[0]["expires_at"] == item["expires_at"]
        async with asyncio.timeout(5):
            event = json.loads(await socket.recv())
        # The event keeps the contract's payload; the page re-reads the list on it.
        assert (event["event"], event["payload"]["approval_id"]) == (
            "APPROVAL_REQUESTED",
            approval_id,
        )

        plain = await http.post("/workspaces/w/approvals", json={"action": "deploy"})
        plain_item = (
            await http.get(f"/workspaces/w/approvals/{plain.json()['approval_id']}")
        ).json()
        assert plain_item["requester"] is None and plain_item["expires_at"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"action": "a", "timeout_seconds": 0},
        {"action": "a", "timeout_seconds": -5},
        {"action": "a", "timeout_seconds": "soon"},
        {"action": "a", "requester": "x" * 201},
        {"action": "a", "requester": 12},
    ],
)
async def test_bad_requester_or_timeout_is_the_contract_400(tmp_path, body):
    async with (
        asyncio.timeout(LIMIT),
        PlatformServer(tmp_path / "p.db") as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
    ):
        response = await http.post("/workspaces/w/approvals", json=body)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid request body"}
        assert server.store.count() == 0


async def test_an_old_database_file_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO approvals (id, workspace_id, action, status, created_at) "
        "VALUES ('11111111-1111-1111-1111-111111111111', 'w', 'old action', 'pending', "
        "'2026-01-01T00:00:00.000000Z')"
    )
    db.commit()
    db.close()
    async with (
        asyncio.timeout(LIMIT),
        PlatformServer(path) as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
    ):
        listed = (await http.get("/workspaces/w/approvals")).json()
        assert [(i["action"], i["requester"], i["expires_at"]) for i in listed] == [
            ("old action", None, None)
        ]
        created = await http.post(
            "/workspaces/w/approvals", json={"action": "new", "requester": "bob"}
        )
        assert created.status_code == 201
    # Opening the upgraded file again must not try to add the columns twice.
    async with PlatformServer(path) as server, httpx.AsyncClient(base_url=server.url) as http:
        listed = (await http.get("/workspaces/w/approvals")).json()
        assert [i["requester"] for i in listed] == ["bob", None]


async def test_the_page_is_served_without_a_token(tmp_path):
    async with (
        asyncio.timeout(LIMIT),
        PlatformServer(tmp_path / "p.db", token=TOKEN) as server,
        httpx.AsyncClient(base_url=server.url, timeout=5.0) as http,
    ):
        for path in ("/", "/inbox"):
            response = await http.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            assert "<title>Approvals inbox</title>" in response.text
            assert TOKEN not in response.text
        assert (await http.get("/workspaces/w/approvals")).status_code == 401


async def test_browser_socket_authenticates_with_query_parameters(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with asyncio.timeout(LIMIT), PlatformServer(tmp_path / "p.db", token=TOKEN) as server:
        base = f"ws://127.0.0.1:{server.port}/ws"
        for query, status in (
            ("?workspace=w", 401),
            ("?workspace=w&token=wrong", 401),
            ("?workspace=w&token=", 401),
            (f"?token={TOKEN}", 400),
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(base + query, open_timeout=5):
                    pass
            assert refused.value.response.status_code == status, query
        async with connect(f"{base}?workspace=w&token={TOKEN}", open_timeout=5):
            assert server.hub.connection_count("w") == 1
        # The header still wins for non-browser clients; the query is only an alternative.
        headers = {"X-Workspace-ID": "h", "Authorization": f"Bearer {TOKEN}"}
        async with connect(f"{base}?workspace=ignored", additional_headers=headers, open_timeout=5):
            assert server.hub.connection_count("h") == 1
    # The test's own client logs its request line at DEBUG; the server side must not.
    server_side = [r for r in caplog.records if not r.name.startswith("websockets.client")]
    assert not [r for r in server_side if TOKEN in r.getMessage()]
