"""How the hub misbehaves on a socket when a WebSocket fault is on, for failure tests.

Three ways a real platform's socket goes wrong that the worker must survive:
it is closed again and again (a flapping proxy), it carries frames no client
can use (a buggy or hostile peer), or it stays open, answers pings and delivers
nothing (a proxy that lost the upstream). The switches live on ``app.Faults``;
this module says what each one does to the frames, so the hub stays a plain
fan-out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

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


class SocketFaults(Protocol):
    """The switches the hub reads (``app.Faults`` has them), live rather than copied."""

    websocket_drop_after_seconds: float | None
    websocket_garbage: bool
    websocket_silent: bool


@dataclass
class SocketFaultCounts:
    """What the faults did, so a test can tell a fault that fired from one that did not."""

    timed_drops: int = 0
    garbage_frames: int = 0
    silenced_messages: int = 0


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


__all__ = [
    "GARBAGE_FRAMES",
    "OVERSIZED_EVERY",
    "OVERSIZED_FRAME_BYTES",
    "SocketFaultCounts",
    "SocketFaults",
    "garbage_before",
]
