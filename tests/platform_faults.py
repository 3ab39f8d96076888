"""The platform misbehaving on purpose: ``Faults``, switches on the platform's hooks.

A test flips a field of ``server.faults`` and the next request or message sees
it; the same object survives a ``PlatformServer`` restart. ``FaultyPlatform``
is the reference platform (or a strict one) with a ``Faults`` as its hooks.

The WebSocket faults are three ways a real platform's socket goes wrong that
the worker must survive: closed again and again (a flapping proxy), carrying
frames no client can use (a buggy or hostile peer), or open, answering pings
and delivering nothing (a proxy that lost the upstream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response

from durable_approvals.devstack.platform import PlatformHooks, PlatformServer

# Beyond the worker's 1,000,000-byte frame limit and websockets' default of
# 1 MiB: a client that enforces a limit must close (1009), not buffer it.
OVERSIZED_FRAME_BYTES = 2 * 1024 * 1024
# The oversized frame closes the socket of a client with a limit, so it comes
# once per this many real messages, not before each: the garbage fault must
# not turn into the drop fault.
OVERSIZED_EVERY = 5

# Frames the contract never sends, each one a different way to be wrong. None
# names an approval that can exist, so a client that skipped validation would
# still not decide anything real: they test that nothing breaks, not trust.
GARBAGE_FRAMES: tuple[str | bytes, ...] = (
    "}{ this is not JSON",
    b"\x00\xff\xfe binary frame \x80",
    "[1, 2, 3]",
    "null",
    json.dumps({"event": "APPROVAL_APPROVED", "payload": "approved"}),
    json.dumps({"event": "APPROVAL_APPROVED", "payload": {"decision": "approved"}}),
    json.dumps({"event": "APPROVAL_DECIDED", "status": "approved", "decided_by": "garbage"}),
    json.dumps({"event": "APPROVAL_DECIDED", "approval_id": 12345, "status": "approved"}),
    json.dumps({"event": "APPROVAL_DECIDED", "approval_id": "", "status": "denied"}),
    json.dumps(
        {"event": "APPROVAL_DENIED", "payload": {"approval_id": "../../not-an-approval"}},
    ),
)


def garbage_before(message_number: int) -> list[str | bytes]:
    """The garbage frames to send before a socket's ``message_number``-th real message (1-based).

    Every kind of small garbage each time, and the oversized frame before every
    ``OVERSIZED_EVERY``-th message: a client sees them all with a handful of
    events, and still receives most real messages on the same socket.
    """
    frames: list[str | bytes] = list(GARBAGE_FRAMES)
    if message_number % OVERSIZED_EVERY == 0:
        frames.append('"' + "x" * OVERSIZED_FRAME_BYTES + '"')
    return frames


@dataclass
class FaultCounts:
    """What the faults did, so a test can tell a fault that fired from one that did not."""

    timed_drops: int = 0
    garbage_frames: int = 0
    silenced_messages: int = 0


@dataclass
class Faults(PlatformHooks):
    """Switches read on every request or message; ``reset()`` turns them all off."""

    create_status: int | None = None
    """When set, create answers this status with ``create_body`` and stores nothing."""
    create_body: str | None = None
    """Raw reply text for ``create_status`` (sent as ``application/json``, valid or not)."""
    create_delay_seconds: float = 0.0
    """Store normally, then wait this long before replying: a reply after the client gave up."""
    read_gate: asyncio.Event | None = None
    """Once an approval was created, hold every list and item read until this is set:
    a platform slow to read (a create's own look-up is not held)."""
    created_any: bool = False
    refuse_websocket: bool = False
    """Refuse every WebSocket upgrade (HTTP 503)."""
    allow_self_decision: bool = False
    """Let the requester decide their own approval, as a platform without the rule would."""
    websocket_drop_after_seconds: float | None = None
    """Close each socket (code 1012) this long after it opened; read again at the deadline."""
    websocket_garbage: bool = False
    """Send garbage (non-JSON, binary, wrong shapes, bad ids, oversized) before each event."""
    websocket_silent: bool = False
    """Accept sockets and answer pings, but deliver no event: a socket that looks alive."""
    counts: FaultCounts = field(default_factory=FaultCounts, compare=False)
    """Kept across ``reset()``: compare before and after."""

    def reset(self) -> None:
        """Back to a well-behaved platform (the counts stay)."""
        for switch in dataclasses.fields(self):
            if switch.name != "counts":
                setattr(self, switch.name, switch.default)

    def create_reply(self, workspace_id: str) -> Response | None:
        if self.create_status is None:
            return None
        return Response(
            content=self.create_body or "",
            status_code=self.create_status,
            media_type="application/json",
        )

    async def after_create(self, workspace_id: str, approval_id: str) -> None:
        self.created_any = True
        if self.create_delay_seconds > 0:
            await asyncio.sleep(self.create_delay_seconds)

    async def before_read(self, workspace_id: str) -> None:
        if self.created_any and self.read_gate is not None:
            await self.read_gate.wait()

    def self_decision_allowed(self, workspace_id: str, approval_id: str) -> bool:
        return self.allow_self_decision

    def websocket_denial(self, workspace_id: str) -> Response | None:
        if not self.refuse_websocket:
            return None
        return JSONResponse({"error": "websocket refused (fault)"}, status_code=503)

    def outgoing_frames(
        self, workspace_id: str, number: int, message: str
    ) -> Sequence[str | bytes]:
        if self.websocket_silent:
            self.counts.silenced_messages += 1
            return ()
        if not self.websocket_garbage:
            return (message,)
        garbage = garbage_before(number)
        self.counts.garbage_frames += len(garbage)
        return [*garbage, message]

    def socket_time_left(self, workspace_id: str, open_seconds: float) -> float | None:
        if self.websocket_drop_after_seconds is None:
            return None
        left = self.websocket_drop_after_seconds - open_seconds
        if left <= 0:
            self.counts.timed_drops += 1
        return left


class FaultyPlatform(PlatformServer):
    """A ``PlatformServer`` whose hooks are ``self.faults``."""

    def __init__(
        self,
        db_path: Path,
        *,
        token: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        strict: bool = False,
        **identity: Any,
    ) -> None:
        """``identity``: ``approvers`` and ``signing_key_path`` (docs/trust-model.md)."""
        self.faults = Faults()
        super().__init__(
            db_path,
            token=token,
            port=port,
            host=host,
            strict=strict,
            hooks=self.faults,
            **identity,
        )
