"""WebSocket fan-out: each workspace's events go to that workspace's sockets.

In strict mode (``broadcast_to_all``) every event goes to every socket instead:
the upstream platform also sends a socket the events of related workspaces
(parent, siblings, children), and "every workspace is related" is the widest
case of that, the one a listener filtering on ``payload.approval_id`` must
survive.

Like the Molecule platform, every socket has its own bounded outgoing buffer
(256 messages) drained by its own sender task, and a message that does not fit
is dropped rather than queued without limit: one slow client must neither
block a broadcast nor grow the server's memory. That is also why listeners must
do a catch-up read after every (re)connect: nothing is replayed.

The sender is also where the WebSocket faults act (:mod:`socket_faults`): a
socket closed a set time after it opened, garbage frames before each real one,
or a socket that swallows every message. Silence and garbage are read on every
message, so a test flips a switch and the next message sees it; the drop
deadline is read when a socket opens and again when it is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Protocol

from devstack.platform.socket_faults import SocketFaultCounts, SocketFaults, garbage_before

logger = logging.getLogger(__name__)

QUEUE_SIZE = 256
# 1012 "service restart": the client should reconnect, which is what both a
# dropped socket (fault) and a stopping server want it to do.
DROP_CLOSE_CODE = 1012


class Socket(Protocol):
    """The calls the hub makes on a socket (starlette's ``WebSocket`` has them)."""

    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Subscriber:
    """One connected socket: its workspace, its bounded queue and its sender task."""

    def __init__(
        self,
        workspace_id: str,
        socket: Socket,
        queue_size: int = QUEUE_SIZE,
        faults: SocketFaults | None = None,
        fault_counts: SocketFaultCounts | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.socket = socket
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self._faults = faults
        self._fault_counts = fault_counts if fault_counts is not None else SocketFaultCounts()
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._opened_at = 0.0

    def start(self) -> None:
        """Start draining the queue; called once the socket has been accepted.

        Until then messages wait in the queue, so nothing broadcast between the
        upgrade request and the accept is lost.
        """
        if self._sender is None and not self._closed:
            self._opened_at = asyncio.get_running_loop().time()
            self._sender = asyncio.create_task(self._drain(), name=f"ws-sender-{self.workspace_id}")

    def offer(self, text: str) -> bool:
        """Queue one message; when the buffer is full the newest message is dropped."""
        if self._closed:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1
            # Warn once per socket: a stuck client would otherwise flood the log.
            logger.log(
                logging.WARNING if self.dropped == 1 else logging.DEBUG,
                "dropping messages for a slow socket of workspace %s (%d so far)",
                self.workspace_id,
                self.dropped,
            )
            return False
        return True

    async def stop_sending(self) -> None:
        """Stop the sender task and wait for it, so nothing sends after a close."""
        self._closed = True
        sender, self._sender = self._sender, None
        if sender is not None and not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def close(self, code: int = DROP_CLOSE_CODE) -> None:
        """Close the socket from the server side; a socket already gone is fine."""
        await self.stop_sending()
        try:
            await self.socket.close(code)
        except Exception as error:  # the client may have left already
            logger.debug("closing a socket of workspace %s: %r", self.workspace_id, error)

    async def _drain(self) -> None:
        sent = 0
        drop_at = self._drop_deadline()
        try:
            while True:
                try:
                    async with asyncio.timeout_at(drop_at):
                        text = await self.queue.get()
                except TimeoutError:
                    # Read again at the deadline: a fault turned off spares the socket.
                    drop_at = self._drop_deadline()
                    if drop_at is not None and drop_at <= asyncio.get_running_loop().time():
                        await self._drop_on_schedule()
                        return
                    continue
                faults = self._faults
                if faults is not None and faults.websocket_silent:
                    self._fault_counts.silenced_messages += 1
                    continue
                sent += 1
                if faults is not None and faults.websocket_garbage:
                    for frame in garbage_before(sent):
                        await self._send(frame)
                        self._fault_counts.garbage_frames += 1
                await self.socket.send_text(text)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The client went away; its receive loop sees the disconnect and
            # unregisters it, so there is nothing else to do here.
            logger.debug("sender of workspace %s stopped: %r", self.workspace_id, error)

    def _drop_deadline(self) -> float | None:
        """When the drop fault ends this socket (loop time), or ``None`` while it is off.

        Counted from the socket's accept, so only sockets opened while the fault
        is on have one: the sender waits without a deadline otherwise.
        """
        after = self._faults.websocket_drop_after_seconds if self._faults is not None else None
        return None if after is None else self._opened_at + after

    async def _drop_on_schedule(self) -> None:
        """The drop fault: close from the server side, as ``drop_all`` does for one socket."""
        self._closed = True
        self._fault_counts.timed_drops += 1
        try:
            await self.socket.close(DROP_CLOSE_CODE)
        except Exception as error:  # the client may have left already
            logger.debug("dropping a socket of workspace %s: %r", self.workspace_id, error)

    async def _send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.socket.send_bytes(frame)
        else:
            await self.socket.send_text(frame)


class Hub:
    """Connected sockets by workspace, and broadcasting to them."""

    def __init__(
        self,
        queue_size: int = QUEUE_SIZE,
        faults: SocketFaults | None = None,
        *,
        broadcast_to_all: bool = False,
    ) -> None:
        """An empty hub.

        Args:
            queue_size: each socket's outgoing buffer, in messages.
            faults: the WebSocket fault switches, read on every message; none if omitted.
            broadcast_to_all: send every workspace's events to every socket
                (strict mode), not only to the workspace's own.
        """
        self.queue_size = queue_size
        self.faults = faults
        self.broadcast_to_all = broadcast_to_all
        self.fault_counts = SocketFaultCounts()
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def register(self, workspace_id: str, socket: Socket) -> Subscriber:
        """Add a socket to a workspace; call ``Subscriber.start()`` after accepting it."""
        subscriber = Subscriber(
            workspace_id, socket, self.queue_size, self.faults, self.fault_counts
        )
        self._subscribers[workspace_id].add(subscriber)
        return subscriber

    async def unregister(self, subscriber: Subscriber) -> None:
        """Forget a socket and stop its sender; safe to call more than once."""
        members = self._subscribers.get(subscriber.workspace_id)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._subscribers[subscriber.workspace_id]
        await subscriber.stop_sending()

    def broadcast(self, workspace_id: str, envelope: Mapping[str, Any]) -> int:
        """Queue ``envelope`` for every socket of ``workspace_id``; returns how many took it.

        With ``broadcast_to_all``, for every connected socket of any workspace.
        The JSON text is made once and shared. Never blocks: a full queue
        drops this message for that socket only.
        """
        if self.broadcast_to_all:
            members = [s for group in self._subscribers.values() for s in group]
        else:
            members = list(self._subscribers.get(workspace_id, ()))
        if not members:
            return 0
        text = json.dumps(envelope, ensure_ascii=False)
        return sum(subscriber.offer(text) for subscriber in members)

    async def drop_all(self, code: int = DROP_CLOSE_CODE) -> int:
        """Close every connected socket from the server side; returns how many.

        A fault for tests (the client sees its connection close) and the first
        step of a shutdown. Sockets leave the registry at once, so
        ``connection_count()`` only counts clients that connect again.
        """
        subscribers = [s for members in self._subscribers.values() for s in members]
        self._subscribers.clear()
        await asyncio.gather(*(subscriber.close(code) for subscriber in subscribers))
        return len(subscribers)

    def connection_count(self, workspace_id: str | None = None) -> int:
        """Connected sockets, of one workspace or of all."""
        if workspace_id is not None:
            return len(self._subscribers.get(workspace_id, ()))
        return sum(len(members) for members in self._subscribers.values())


__all__ = ["DROP_CLOSE_CODE", "QUEUE_SIZE", "Hub", "Socket", "Subscriber"]
