"""One oversized or malformed item in the platform's list is that item's problem: the
create's marker look-up and the listener's catch-up read the other items (skipped items
are counted and warned once), on both platform modes.

The 10 MB item goes straight into the platform's store, as another agent's request on a
platform without size limits (the upstream contract) would be stored.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from durable_approvals import errors
from durable_approvals import platform_client as platform_client_module
from durable_approvals.models import ApprovalStatus, DecisionSource, WebSocketMode
from durable_approvals.platform_client import (
    MAX_ITEM_BYTES,
    PlatformClient,
    PlatformError,
)
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    audit_records,
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.test_listener import listener_of, socket_count, terminate_quietly

pytestmark = pytest.mark.platform_modes("reference", "strict")

BIG_ACTION = "x" * 10_000_000
LIMIT = 60.0


async def test_a_10mb_item_blocks_neither_requests_nor_the_catch_up(
    dev_env, settings, platform, caplog
):
    """Another agent's 10 MB item is among the newest 50: our request is still created (its
    marker look-up lists them), and a decision made while the socket was down still
    arrives by the listener's catch-up."""
    other, _ = platform.store.create(WORKSPACE, action=BIG_ACTION, task_id="another-agent")
    settings = settings.model_copy(update={"approval_use_websocket": WebSocketMode.TRUE})
    client = dev_env.client
    caplog.set_level(logging.WARNING, logger="durable_approvals.platform_client")
    async with running_worker(client, settings) as task_queue:
        try:
            handle = await start(client, task_queue)
            approval_id = await asyncio.wait_for(wait_pending(handle), LIMIT)
            await eventually(lambda: socket_count(platform, 1))
            platform.faults.refuse_websocket = True
            await platform.hub.drop_all()
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="while-down")
                listed = await api.read_list()
            await asyncio.sleep(1.5)  # no polling in this mode: only the catch-up brings it
            undelivered = await handle.query(ApprovalWorkflow.status)
            platform.faults.refuse_websocket = False
            result = await finish(handle, "decided_by_catch_up_past_an_oversized_item")
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert undelivered.decision is None
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "while-down"
    assert audit_records(settings)[-1]["via"] == DecisionSource.CATCH_UP.value
    assert [item["id"] for item in listed.items] == [approval_id] and listed.skipped == 1
    warnings = [r.getMessage() for r in caplog.records if "skipping oversized item" in r.message]
    assert len([w for w in warnings if other.id in w]) >= 1
    # one line per client and item, however many passes read it (the worker's and ours)
    assert len(warnings) <= 2 and all(len(w) < 300 for w in warnings)


def _client(body: bytes) -> PlatformClient:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)), timeout=5.0
    )
    return PlatformClient(http=http, base_url="http://platform", workspace_id=WORKSPACE)


GOOD = {"id": "a1", "task_id": "ours", "status": "pending"}
UNUSABLE_ITEMS = {
    "oversized": json.dumps({"id": "big", "action": "x" * (MAX_ITEM_BYTES + 1)}).encode(),
    "oversized-id-last": json.dumps({"action": "x" * (MAX_ITEM_BYTES + 1), "id": "b"}).encode(),
    "non-utf8": b'{"id": "\xc0"}',
    "not-an-object": b'"just a string"',
    "no-id": b'{"task_id": "ours"}',
    "bad-id": b'{"id": "../../etc"}',
    "syntax-error": b'{"id": nope}',
    "deeply-nested": b'{"id": "d", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "empty": b"",
}


@pytest.mark.reference_only("no platform: a peer's reply bytes")
@pytest.mark.parametrize("bad", UNUSABLE_ITEMS.values(), ids=UNUSABLE_ITEMS.keys())
async def test_an_unusable_item_is_skipped_and_counted_and_the_others_read(bad, caplog):
    body = b"[" + bad + b", " + json.dumps(GOOD).encode() + b"]"
    client = _client(body)
    with caplog.at_level(logging.WARNING, logger="durable_approvals.platform_client"):
        first = await client.read_list()
        again = await client.read_list()
        found = await client.find_by_task_id("ours")
    await client.http.aclose()
    assert (first.items, first.skipped) == ([GOOD], 1)
    assert (again.items, again.skipped) == ([GOOD], 1)
    assert found == "a1"
    skipping = [r for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipping) == 1  # warned once, though read three times
    assert len(skipping[0].getMessage()) < 300


@pytest.mark.reference_only("no platform: a peer's reply bytes")
async def test_a_runaway_list_reply_is_one_bad_reply(monkeypatch):
    monkeypatch.setattr(platform_client_module, "MAX_LIST_BYTES", 3 * MAX_ITEM_BYTES)
    client = _client(b'["' + b"x" * (3 * MAX_ITEM_BYTES + 10) + b'"]')
    with pytest.raises(PlatformError) as caught:
        await client.read_list()
    await client.http.aclose()
    assert (caught.value.kind, caught.value.retryable) == (errors.PLATFORM_BAD_REPLY, False)
