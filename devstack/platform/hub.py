"""WebSocket fan-out: each workspace's events go to that workspace's sockets.

Each socket has its own bounded outgoing queue (``QUEUE_SIZE`` messages) drained
by its own sender task; a message that does not fit is dropped for that socket
only, and nothing is ever replayed. With ``broadcast_to_all`` (strict mode)
every event goes to every socket. ``docs/platform-modes.md`` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Protocol

from durable_approvals.devstack.platform.hooks import PlatformHooks

logger = logging.getLogger(__name__)

QUEUE_SIZE = 256
DROP_CLOSE_CODE = 1012
""""Service restart": the code of a socket closed by the server, which the client should reopen."""


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
        hooks: PlatformHooks | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.socket = socket
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self._hooks = hooks if hooks is not None else PlatformHooks()
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._opened_at = 0.0

    def start(self) -> None:
        """Start draining the queue; call once the socket has been accepted.

        Messages offered before wait in the queue, so none is lost in between.
        """
        if self._sender is None and not self._closed:
            self._opened_at = asyncio.get_running_loop().time()
            self._sender = asyncio.create_task(self._drain(), name=f"ws-sender-{self.workspace_id}")

    def offer(self, text: str) -> bool:
        """Queue one message.

        Returns:
            Whether it was queued: ``False`` once closed or when the queue is
            full (the message is dropped for this socket; warned once per socket).
        """
        if self._closed:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1
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
        await self._close_socket(code)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        number = 0
        close_at = self._close_at(loop.time())
        try:
            while close_at is None or close_at > loop.time():
                try:
                    async with asyncio.timeout_at(close_at):
                        text = await self.queue.get()
                except TimeoutError:
                    close_at = self._close_at(loop.time())
                    continue
                number += 1
                for frame in self._hooks.outgoing_frames(self.workspace_id, number, text):
                    if isinstance(frame, bytes):
                        await self.socket.send_bytes(frame)
                    else:
                        await self.socket.send_text(frame)
                if close_at is not None and close_at <= loop.time():
                    close_at = self._close_at(loop.time())
            self._closed = True
            await self._close_socket(DROP_CLOSE_CODE)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The client went away; its receive loop unregisters it.
            logger.debug("sender of workspace %s stopped: %r", self.workspace_id, error)

    def _close_at(self, now: float) -> float | None:
        """When the hooks want this socket closed (loop time), or ``None``."""
        left = self._hooks.socket_time_left(self.workspace_id, now - self._opened_at)
        return None if left is None else now + left

    async def _close_socket(self, code: int) -> None:
        try:
            await self.socket.close(code)
        except Exception as error:  # the client may have left already
            logger.debug("closing a socket of workspace %s: %r", self.workspace_id, error)


class Hub:
    """Connected sockets by workspace, and broadcasting to them."""

    def __init__(
        self,
        queue_size: int = QUEUE_SIZE,
        hooks: PlatformHooks | None = None,
        *,
        broadcast_to_all: bool = False,
    ) -> None:
        """An empty hub.

        Args:
            queue_size: each socket's outgoing queue, in messages.
            hooks: what each socket's sender asks about frames and closing.
            broadcast_to_all: send every workspace's events to every socket
                (strict mode), not only to the workspace's own.
        """
        self.queue_size = queue_size
        self.hooks = hooks if hooks is not None else PlatformHooks()
        self.broadcast_to_all = broadcast_to_all
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def register(self, workspace_id: str, socket: Socket) -> Subscriber:
        """Add a socket to a workspace; call ``Subscriber.start()`` after accepting it."""
        subscriber = Subscriber(workspace_id, socket, self.queue_size, self.hooks)
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
        """Queue ``envelope`` (as JSON) for every socket of ``workspace_id``, never blocking.

        Returns:
            How many sockets took it (all sockets' count with ``broadcast_to_all``).
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
        """Close every connected socket from the server side.

        Sockets leave the registry at once: ``connection_count()`` then only
        counts clients that connect again.

        Returns:
            How many sockets were closed.
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
