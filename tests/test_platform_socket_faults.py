"""The WebSocket faults (tests/platform_faults.py, through the platform's hooks), seen by
a real client on 127.0.0.1: a socket dropped on a schedule, garbage frames around real
events, a silent socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from durable_approvals.devstack.platform import PlatformServer
from durable_approvals.devstack.platform.hub import DROP_CLOSE_CODE
from tests.platform_faults import GARBAGE_FRAMES, OVERSIZED_EVERY, OVERSIZED_FRAME_BYTES

LIMIT = 10.0  # seconds any one test may take


def websocket(server: PlatformServer, workspace: str, **options: Any) -> connect:
    return connect(
        f"ws://127.0.0.1:{server.port}/ws",
        additional_headers={"X-Workspace-ID": workspace},
        open_timeout=5,
        **options,
    )


def event(n: int) -> dict[str, Any]:
    return {"event": "APPROVAL_REQUESTED", "payload": {"approval_id": f"real-{n}"}}


async def frames_until_real(socket: ClientConnection) -> tuple[list[str | bytes], dict[str, Any]]:
    """Every frame up to the next real event (no garbage frame is an ``APPROVAL_REQUESTED``)."""
    seen: list[str | bytes] = []
    while True:
        frame = await socket.recv()
        try:
            parsed = json.loads(frame)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("event") == "APPROVAL_REQUESTED":
            return seen, parsed
        seen.append(frame)


async def test_drop_fault_closes_each_socket_after_the_set_time(server, workspace):
    server.faults.websocket_drop_after_seconds = 0.2
    drops = server.faults.counts.timed_drops
    async with asyncio.timeout(LIMIT):
        for _ in range(2):  # a new socket gets its own deadline
            async with websocket(server, workspace) as socket:
                with pytest.raises(ConnectionClosed) as closed:
                    await socket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == DROP_CLOSE_CODE
    assert server.faults.counts.timed_drops == drops + 2


async def test_drop_fault_turned_off_spares_open_sockets(server, workspace):
    server.faults.websocket_drop_after_seconds = 0.3
    async with asyncio.timeout(LIMIT), websocket(server, workspace) as socket:
        server.faults.websocket_drop_after_seconds = None  # before the deadline
        await asyncio.sleep(0.5)  # past it
        server.hub.broadcast(workspace, event(1))
        assert json.loads(await socket.recv()) == event(1)


async def test_garbage_fault_surrounds_real_events_with_every_kind_of_garbage(server, workspace):
    server.faults.websocket_garbage = True
    async with asyncio.timeout(LIMIT), websocket(server, workspace, max_size=None) as socket:
        received = []
        for n in range(1, OVERSIZED_EVERY + 1):
            server.hub.broadcast(workspace, event(n))
            received.append(await frames_until_real(socket))

    for n, (garbage, real) in enumerate(received, start=1):
        assert real == event(n)  # every real event still arrives, in order
        assert garbage[: len(GARBAGE_FRAMES)] == list(GARBAGE_FRAMES)
        oversized = garbage[len(GARBAGE_FRAMES) :]
        if n % OVERSIZED_EVERY:
            assert oversized == []
        else:
            assert [len(frame) for frame in oversized] == [OVERSIZED_FRAME_BYTES + 2]
    assert any(isinstance(frame, bytes) for frame in GARBAGE_FRAMES)


async def test_a_client_with_a_frame_limit_is_closed_by_the_oversized_frame(server, workspace):
    server.faults.websocket_garbage = True
    async with asyncio.timeout(LIMIT), websocket(server, workspace, max_size=1_000_000) as socket:
        for n in range(1, OVERSIZED_EVERY):
            server.hub.broadcast(workspace, event(n))
            await frames_until_real(socket)
        server.hub.broadcast(workspace, event(OVERSIZED_EVERY))
        with pytest.raises(ConnectionClosed) as closed:
            await frames_until_real(socket)
    assert closed.value.sent is not None and closed.value.sent.code == 1009  # message too big


async def test_silent_fault_answers_pings_and_delivers_nothing(server, workspace):
    server.faults.websocket_silent = True
    silenced = server.faults.counts.silenced_messages
    async with asyncio.timeout(LIMIT), websocket(server, workspace) as socket:
        server.hub.broadcast(workspace, event(1))
        while server.faults.counts.silenced_messages == silenced:
            await asyncio.sleep(0.01)  # the sender took the event and sent nothing
        await (await socket.ping())  # the socket looks alive
        server.faults.websocket_silent = False
        server.hub.broadcast(workspace, event(2))
        first = json.loads(await socket.recv())
    assert first == event(2)  # event 1 was never sent
