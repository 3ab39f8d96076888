"""Door 4 (issue 23): one oversized item cannot block a workspace. The platform caps whole
bodies (413), ``action``, ``reason`` and ``context.args`` (422), in both modes, so that the
newest 50 items of the largest size it takes fit in a client's reply cap
(devstack/platform/limits.py, docs/platform-modes.md "Limits").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from durable_approvals.devstack.platform.limits import MAX_BODY_BYTES
from durable_approvals.models import MAX_ACTION_CHARS, MAX_REASON_CHARS
from durable_approvals.platform_client import MAX_REPLY_BYTES
from tests.helpers import PLATFORM_TOKEN

pytestmark = pytest.mark.platform_modes("reference", "strict")
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def http(platform: Any) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {PLATFORM_TOKEN}"} if platform.strict else {}
    async with httpx.AsyncClient(base_url=platform.url, headers=headers, timeout=30) as client:
        yield client


async def test_an_oversized_item_is_refused_and_nothing_is_stored(
    http: httpx.AsyncClient, workspace: str
) -> None:
    url = f"/workspaces/{workspace}/approvals"
    huge = await http.post(url, json={"action": "x" * 10_000_000})
    refused = [
        await http.post(url, json=body)
        for body in (
            {"action": "x" * (MAX_ACTION_CHARS + 1)},
            {"action": "x", "reason": "r" * (MAX_REASON_CHARS + 1)},
            {"action": "x", "context": {"args": {"blob": "b" * 20_000}}},
        )
    ]
    listed = (await http.get(url)).json()
    assert (huge.status_code, huge.json()["error"]) == (
        413,
        f"request body larger than {MAX_BODY_BYTES} bytes",
    )
    assert [(r.status_code, r.json()["error"].split()[0]) for r in refused] == [
        (422, "action"),
        (422, "reason"),
        (422, "context.args"),
    ]
    assert listed == []


async def test_fifty_items_of_the_largest_size_taken_fit_in_a_clients_reply(
    http: httpx.AsyncClient, workspace: str
) -> None:
    """Bodies of exactly the cap are taken, one byte more is not; the newest 50 of them
    make a list reply the client's cap takes, so no other agent's items block ours."""
    url = f"/workspaces/{workspace}/approvals"
    body = {
        "action": "a" * MAX_ACTION_CHARS,
        "reason": "r" * MAX_REASON_CHARS,
        "context": {"args": {"blob": "b" * 16_000}, "pad": ""},
    }
    body["context"]["pad"] = "p" * (MAX_BODY_BYTES - len(json.dumps(body).encode()))
    assert len(json.dumps(body).encode()) == MAX_BODY_BYTES
    for _ in range(50):
        created = await http.post(url, content=json.dumps(body), headers=JSON)
        assert created.status_code == 201, created.text
    body["context"]["pad"] += "p"
    over = await http.post(url, content=json.dumps(body), headers=JSON)
    listed = await http.get(url)
    assert over.status_code == 413
    assert len(listed.json()) == 50 and len(listed.content) < MAX_REPLY_BYTES
