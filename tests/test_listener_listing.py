"""What a listener pass lists from visibility: every pending approval at connect, then only
what could have changed (started or closed since the last listing, less a margin; or
started before it and findable only now). Each test runs a session of its own beside a
worker whose listener catches up once and then sleeps, over a socket that delivers
nothing: only this session's passes can deliver a decision."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.testing import ActivityEnvironment

from durable_approvals.activities import approval_index
from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.activities.listener import ListenerSession
from durable_approvals.activities.messages import ListenerConfig, ListenerReport
from durable_approvals.metrics import ListenerMetrics
from durable_approvals.models import WebSocketMode
from durable_approvals.settings import Settings
from tests.helpers import (
    FAST_LISTENER,
    WORKSPACE,
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.platform_faults import FaultyPlatform

pytestmark = pytest.mark.platform_modes("reference", "strict")

MARGIN = 1.0  # the session's listing margin, seconds
SESSION = dataclasses.replace(FAST_LISTENER, listing_margin=MARGIN)  # a pass every 2 s
ASLEEP = dataclasses.replace(FAST_LISTENER, reconcile_interval=3_600.0)  # the worker's


class PendingGauge(ListenerMetrics):
    """The session's metrics, keeping each value of the ``approvals_pending`` gauge."""

    def __init__(self) -> None:
        super().__init__(MetricMeter.noop, WORKSPACE)
        self.values: list[int] = []

    def pending(self, count: int) -> None:
        self.values.append(count)


@dataclasses.dataclass
class Session:
    index: ApprovalIndex
    gauge: PendingGauge
    task: asyncio.Task[ListenerReport]

    async def passes(self, count: int) -> None:
        """Wait until the session has made ``count`` more passes."""
        target = len(self.gauge.values) + count

        async def done() -> bool:
            return len(self.gauge.values) >= target

        await eventually(done, timeout=10 * count)


@contextlib.asynccontextmanager
async def session_on(client: Client, settings: Settings, task_queue: str) -> AsyncIterator[Session]:
    """A listener session of the test's own on ``task_queue``, cancelled on exit."""
    index = ApprovalIndex(client, task_queue, WORKSPACE)
    gauge = PendingGauge()
    config = ListenerConfig(workspace_id=WORKSPACE, websocket=WebSocketMode.TRUE)
    async with platform_client(settings) as api:
        session = ListenerSession(client, api, index, config, SESSION, metrics=gauge)
        task = asyncio.create_task(ActivityEnvironment().run(session.run))
        try:
            yield Session(index, gauge, task)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def silent(platform: FaultyPlatform) -> FaultyPlatform:
    platform.faults.websocket_silent = True
    return platform


async def test_a_pass_lists_only_what_could_have_changed(dev_env, silent, settings, monkeypatch):
    monkeypatch.setattr(approval_index, "LISTING_PAGE_SIZE", 2)  # the full listing: 2 pages
    client = dev_env.client
    async with running_worker(client, settings, tuning=ASLEEP) as task_queue:
        waiting = [await start(client, task_queue) for _ in range(3)]
        for handle in waiting:
            await wait_pending(handle)
        await asyncio.sleep(MARGIN)
        async with session_on(client, settings, task_queue) as session:
            await session.passes(4)  # catch-up (full), settle, two reconciliations
            assert session.index.listed == 3, "after the full listing, nothing changed"
            assert session.gauge.values[-1] == 3

            late = await start(client, task_queue)
            approval_id = await wait_pending(late)
            await session.passes(2)
            listed = session.index.listed
            assert 4 <= listed <= 5, "the new approval, listed once or twice (margin)"
            assert session.gauge.values[-1] == 4
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="alice")
            result = await finish(late, "listing_new_approval")
            assert result.approved is True  # the socket is silent: a pass delivered it
            await session.passes(3)
            assert session.gauge.values[-1] == 3, "the finished approval left the map"
            assert session.index.listed - listed <= 2, "only the closed one, once or twice"


async def test_an_approval_findable_only_after_the_margin_is_listed(dev_env, silent, settings):
    """Its request took longer to create than the margin: it started before the last
    listing's bound, and became findable after it."""
    client = dev_env.client
    async with (
        running_worker(client, settings, tuning=ASLEEP) as task_queue,
        session_on(client, settings, task_queue) as session,
    ):
        await session.passes(2)
        silent.faults.create_delay_seconds = 4 * MARGIN
        slow = await start(client, task_queue)
        approval_id = await wait_pending(slow)
        silent.faults.create_delay_seconds = 0.0
        await session.passes(2)
        assert session.gauge.values[-1] == 1
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=False, decided_by="bob")
        result = await finish(slow, "listing_slow_create")
        assert result.approved is False
