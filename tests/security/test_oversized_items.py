"""Door 4 (issue 23): one oversized item cannot block a workspace. The platform caps whole
bodies (413), ``action``, ``reason`` and ``context.args`` (422), in both modes, so that the
newest 50 items of the largest size it takes fit in a client's reply cap
(devstack/platform/limits.py, docs/platform-modes.md "Limits").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from durable_approvals.devstack.platform.limits import MAX_BODY_BYTES
from durable_approvals.models import MAX_ACTION_CHARS, MAX_REASON_CHARS
from durable_approvals.platform_client import MAX_REPLY_BYTES
from tests.helpers import PLATFORM_TOKEN

pytestmark = pytest.mark.platform_modes("reference", "strict")


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
    url = f"/workspaces/{workspace}/approvals"
    body = {
        "action": "a" * MAX_ACTION_CHARS,
        "reason": "r" * MAX_REASON_CHARS,
        "context": {"args": {"blob": "b" * 16_000}, "pad": "p" * 8_000},
    }
    for _ in range(50):
        created = await http.post(url, json=body)
        assert created.status_code == 201, created.text
    listed = await http.get(url)
    assert len(listed.json()) == 50 and len(listed.content) < MAX_REPLY_BYTES
