"""The shared socket: one connection for every waiting listener of a worker process,
decisions fanned out by approval id, catch-up after every (re)connect, reconciliation
when the socket stays silent."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random

import httpx
import pytest

from activities.decision_feed import DecisionFeed, FeedOptions, FeedUnavailable
from approvals.models import DecisionSource
from approvals.platform_client import PlatformClient
from tests.helpers import WORKSPACE, eventually

# No reconciliation unless a test asks for it: these tests create approvals straight in
# the store, so their sockets are silent, and a re-read would deliver what they expect
# from the socket.
FAST = FeedOptions(
    backoff=(0.05, 0.1, 0.2), catch_up_retry=0.2, linger=0.3, reconcile_interval=3600
)


@pytest.fixture
async def api(platform):
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield PlatformClient(http=http, base_url=platform.url, workspace_id=WORKSPACE)


@pytest.fixture
async def feed(api):
    feed = DecisionFeed(api, FAST)
    yield feed
    await feed.close()


def create_pending(platform, count: int) -> list[str]:
    return [platform.store.create(WORKSPACE, action=f"action {n}")[0].id for n in range(count)]


async def test_ten_thousand_subscribers_share_one_socket(platform, api, feed):
    approval_ids = create_pending(platform, 10_000)
    async with contextlib.AsyncExitStack() as stack:
        futures = {
            approval_id: await stack.enter_async_context(feed.subscribe(approval_id))
            for approval_id in approval_ids
        }

        async def all_caught_up() -> bool:
            return feed.caught_up_count() == len(approval_ids)

        await eventually(all_caught_up, timeout=120)
        sockets = platform.hub.connection_count()
        decided = random.sample(approval_ids, 50)
        for approval_id in decided:
            await api.decide(approval_id, approved=True, decided_by="ops")
        for approval_id in decided:
            decision = await asyncio.wait_for(futures[approval_id], 10)
            assert (
                decision.approval_id == approval_id and decision.source is DecisionSource.WEBSOCKET
            )
        still_waiting = [f for a, f in futures.items() if a not in decided and f.done()]

    assert sockets == 1 and feed.stats.connects == 1
    assert still_waiting == []
    assert feed.stats.delivered == 50


async def test_decision_made_while_the_socket_was_down_arrives_by_catch_up(platform, api, feed):
    (approval_id,) = create_pending(platform, 1)
    async with feed.subscribe(approval_id) as decision:
        await eventually(lambda: _true(feed.caught_up_count() == 1))
        platform.faults.refuse_websocket = True
        await platform.hub.drop_all()
        await api.decide(approval_id, approved=False, decided_by="night-shift")
        platform.faults.refuse_websocket = False
        result = await asyncio.wait_for(decision, 10)

    assert (result.approved, result.decided_by) == (False, "night-shift")
    assert result.source is DecisionSource.CATCH_UP
    assert feed.stats.connects == 2


async def test_decision_made_before_subscribing_is_found(platform, api, feed):
    first, second = create_pending(platform, 2)
    async with feed.subscribe(first):
        await eventually(lambda: _true(feed.connected))
        frames = feed.stats.frames
        await api.decide(second, approved=True, decided_by="early")
        await eventually(lambda: _true(feed.stats.frames > frames))  # its event went by unheard
        async with feed.subscribe(second) as decision:  # joins the open socket
            result = await asyncio.wait_for(decision, 10)
    assert result.source is DecisionSource.CATCH_UP and result.decided_by == "early"
    assert feed.stats.connects == 1


async def test_a_decision_on_a_silent_socket_arrives_by_reconciliation(platform, api):
    """Without reconciliation the decision would wait for the approval's timer."""
    feed = DecisionFeed(api, dataclasses.replace(FAST, reconcile_interval=0.3))
    (approval_id,) = create_pending(platform, 1)
    try:
        async with feed.subscribe(approval_id) as decision:
            await eventually(lambda: _true(feed.caught_up_count() == 1))
            platform.faults.websocket_silent = True  # open, answers pings, delivers nothing
            await api.decide(approval_id, approved=True, decided_by="quiet-hours")
            result = await asyncio.wait_for(decision, 10)
    finally:
        await feed.close()

    assert (result.decided_by, result.source) == ("quiet-hours", DecisionSource.CATCH_UP)
    assert platform.hub.fault_counts.silenced_messages >= 1  # its event was swallowed
    assert feed.stats.reconciled == 1 and feed.stats.connects == 1


async def test_reconciliation_reads_a_bounded_batch_and_reaches_every_subscriber(platform, api):
    batch = 3
    options = dataclasses.replace(FAST, reconcile_interval=0.2, reconcile_batch=batch)
    feed = DecisionFeed(api, options)
    oldest = create_pending(platform, 60)[:10]  # beyond the list's newest 50: single reads
    try:
        async with contextlib.AsyncExitStack() as stack:
            futures = [await stack.enter_async_context(feed.subscribe(a)) for a in oldest]
            await eventually(lambda: _true(feed.caught_up_count() == len(oldest)))
            platform.faults.websocket_silent = True
            for approval_id in oldest:
                await api.decide(approval_id, approved=False, decided_by="batch")
            results = await asyncio.wait_for(asyncio.gather(*futures), 20)
    finally:
        await feed.close()

    assert [r.approval_id for r in results] == oldest
    stats = feed.stats
    assert stats.reconcile_reads <= stats.reconcile_passes * (1 + batch)  # list + batch
    assert stats.reconcile_passes >= math.ceil(len(oldest) / batch)  # spread over passes
    assert stats.reconciled == len(oldest) and stats.connects == 1


async def test_each_subscriber_gets_only_its_own_decision(platform, api, feed):
    one, two = create_pending(platform, 2)
    async with (
        feed.subscribe(one) as first,
        feed.subscribe(one) as again,
        feed.subscribe(two) as other,
    ):
        await eventually(lambda: _true(feed.caught_up_count() == 3))
        platform.hub.broadcast(
            WORKSPACE, {"event": "APPROVAL_REQUESTED", "payload": {"approval_id": two}}
        )
        platform.hub.broadcast(
            WORKSPACE, {"event": "APPROVAL_APPROVED", "payload": {"approval_id": "../x"}}
        )
        await api.decide(one, approved=True, decided_by="ops")
        results = await asyncio.wait_for(asyncio.gather(first, again), 10)
        await asyncio.sleep(0.2)
        assert not other.done()
    assert [r.approval_id for r in results] == [one, one]


async def test_subscribers_are_told_when_the_socket_cannot_be_opened(platform, api, feed):
    (approval_id,) = create_pending(platform, 1)
    platform.faults.refuse_websocket = True
    async with feed.subscribe(approval_id) as decision:
        with pytest.raises(FeedUnavailable):
            await asyncio.wait_for(decision, 10)
    platform.faults.refuse_websocket = False
    await api.decide(approval_id, approved=True, decided_by="later")
    async with feed.subscribe(approval_id) as decision:  # a new subscriber starts afresh
        assert (await asyncio.wait_for(decision, 10)).decided_by == "later"


async def test_the_socket_closes_when_nobody_listens(platform, feed):
    (approval_id,) = create_pending(platform, 1)
    waiter = asyncio.create_task(_wait_in(feed, approval_id))
    await eventually(lambda: _true(platform.hub.connection_count() == 1))
    waiter.cancel()  # as when Temporal cancels the listener activity
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    assert feed.subscriber_count() == 0
    await eventually(lambda: _true(platform.hub.connection_count() == 0), timeout=10)


async def _wait_in(feed: DecisionFeed, approval_id: str) -> None:
    async with feed.subscribe(approval_id) as decision:
        await decision


async def _true(value: bool) -> bool:
    return value


class _FlakyListPlatform(PlatformClient):
    """The real client, whose list read raises an unexpected error once."""

    failures_left = 1

    async def list_approvals(self):  # type: ignore[no-untyped-def]
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("a bug in the list read")
        return await super().list_approvals()


async def test_a_catch_up_pass_that_raises_is_retried(platform, api):
    flaky = _FlakyListPlatform(http=api.http, base_url=api.base_url, workspace_id=WORKSPACE)
    feed = DecisionFeed(flaky, FAST)
    (approval_id,) = create_pending(platform, 1)
    await api.decide(approval_id, approved=True, decided_by="before")
    try:
        async with feed.subscribe(approval_id) as decision:
            result = await asyncio.wait_for(decision, 10)
    finally:
        await feed.close()
    assert flaky.failures_left == 0 and feed.stats.catch_up_passes >= 2
    assert (result.decided_by, result.source) == ("before", DecisionSource.CATCH_UP)


async def test_a_feed_that_crashes_tells_its_subscribers(platform, api, monkeypatch):
    feed = DecisionFeed(api, FAST)

    async def broken(self: DecisionFeed) -> None:
        raise RuntimeError("a bug in the feed")

    monkeypatch.setattr(DecisionFeed, "_connect_and_serve", broken)
    (approval_id,) = create_pending(platform, 1)
    async with feed.subscribe(approval_id) as decision:
        with pytest.raises(FeedUnavailable, match="a bug in the feed"):
            await asyncio.wait_for(decision, 10)
    await feed.close()
