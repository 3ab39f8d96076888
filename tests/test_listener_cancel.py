"""A cancelled listener session ends, even while frames and unowned decisions keep it busy.

A worker that shuts down (or a listener workflow that cancels its session) cancels the
session activity; a session that swallowed the cancellation kept its socket open and
held the worker's shutdown for up to its whole session. ``asyncio.wait_for`` on 3.11
drops a cancellation that arrives in the step its awaited result does, which a busy
socket makes likely: each test cancels sessions at such moments, again and again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from durable_approvals.activities.listener import ListenerActivities
from durable_approvals.activities.messages import ListenerConfig
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.models import WebSocketMode
from durable_approvals.settings import Settings
from tests.helpers import FAST_LISTENER, WORKSPACE, eventually
from tests.platform_faults import FaultyPlatform

pytestmark = pytest.mark.platform_modes("reference", "strict")

CANCELS = 12
ENDS_WITHIN = 5.0  # seconds; a session that swallowed the cancel runs for its hour


@contextlib.asynccontextmanager
async def flooding(platform: FaultyPlatform, decisions: bool) -> AsyncIterator[None]:
    """Keep the workspace's sockets busy: frames that are no decision and, with
    ``decisions``, decisions for approvals nobody owns (each one a look-up and a retry)."""

    async def flood() -> None:
        while True:
            for _ in range(8):
                platform.hub.broadcast(WORKSPACE, {"event": "APPROVAL_NOTED", "payload": {}})
            if decisions:
                platform.hub.broadcast(
                    WORKSPACE,
                    {
                        "event": "APPROVAL_APPROVED",
                        "payload": {"approval_id": f"apr-{uuid.uuid4()}", "decided_by": "bob"},
                    },
                )
            await asyncio.sleep(0.002)

    task = asyncio.create_task(flood())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def connected(platform: FaultyPlatform, wanted: bool) -> Callable[[], Awaitable[bool]]:
    """A check for ``eventually``: the workspace has a socket (or, ``wanted`` False, none)."""

    async def check() -> bool:
        return (platform.hub.connection_count() > 0) is wanted

    return check


async def cancel_sessions(
    dev_env, platform: FaultyPlatform, settings: Settings, *, decisions: bool
) -> None:
    """Start and cancel ``CANCELS`` sessions under a flood; each must end within seconds."""
    async with httpx.AsyncClient() as http:
        listener = ListenerActivities(dev_env.client, PlatformAccess(settings, http), FAST_LISTENER)
        config = ListenerConfig(
            workspace_id=WORKSPACE, websocket=WebSocketMode.TRUE, session_seconds=3_600
        )
        async with flooding(platform, decisions):
            for attempt in range(CANCELS):
                session = asyncio.create_task(
                    ActivityEnvironment().run(listener.listen_workspace, config)
                )
                await eventually(connected(platform, True), timeout=10)
                await asyncio.sleep(0.05 + 0.03 * attempt)  # frames read, look-ups under way
                session.cancel()
                done, _ = await asyncio.wait({session}, timeout=ENDS_WITHIN)
                assert session in done, f"cancel {attempt + 1}: the session kept running"
                assert session.cancelled(), session.exception()
                await eventually(connected(platform, False), timeout=10)


async def test_cancelled_session_ends_while_frames_arrive(dev_env, platform, settings):
    await cancel_sessions(dev_env, platform, settings, decisions=False)


async def test_cancelled_session_ends_while_unowned_decisions_are_retried(
    dev_env, platform, settings
):
    await cancel_sessions(dev_env, platform, settings, decisions=True)
