"""One WebSocket per worker process and workspace, shared by every waiting listener.

A listener activity per approval is what Temporal needs (it heartbeats, is
cancelled with its workflow, is retried on another worker after a crash), but
a socket per approval would cost the platform 10,000 connections for 10,000
pending approvals. So listeners subscribe here: one connection per
(platform, workspace, token), decisions fanned out in memory by approval id.

Nothing is missed because of the order of things: a subscriber is registered
before any read made for it; after every (re)connect one catch-up pass reads
the state of every subscriber (one list read, then the single-item route for
those the list's newest 50 do not hold); a subscriber that joins an open
connection gets its own catch-up in the next pass. A read that fails is
retried each second while the socket is up.

A socket can also stay open, answer pings and deliver nothing (a proxy that
lost its upstream): then a decision made after a subscriber's catch-up would
wait for the approval's timer. So when no frame at all has arrived for
``reconcile_interval`` seconds, the feed reconciles: it reads the state of the
subscribers still waiting, as a catch-up pass does, but with at most
``reconcile_batch`` single-item reads, oldest-read first (see
:class:`FeedOptions` for the cost).

When the socket cannot be opened ``max_connect_failures`` times in a row,
every current subscriber is told (:class:`FeedUnavailable`) so that its
workflow can switch to polling; the next subscriber starts afresh. With no
subscribers left, the socket is closed after ``linger`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from approvals.events import MAX_FRAME_BYTES, decision_from_item, decision_in_frame
from approvals.models import Decision, DecisionSource
from approvals.platform_client import PlatformClient, PlatformError

logger = logging.getLogger(__name__)

SOCKET_ERRORS = (OSError, TimeoutError, InvalidHandshake, WebSocketException)


class FeedUnavailable(Exception):
    """The platform's socket could not be opened; the subscriber should poll instead."""


@dataclass(frozen=True)
class FeedOptions:
    """How patient the shared socket is; defaults suit a production worker.

    ``reconcile_interval`` (60 s) and ``reconcile_batch`` (1,000) bound what a
    silent socket costs. A reconciliation runs only after that long without
    any frame, at most once per interval, and costs one list read plus at most
    ``reconcile_batch`` single-item reads (``catch_up_concurrency`` at a time)
    for the waiting subscribers the list (newest 50) does not hold. A socket
    that carries frames never reconciles: the platform sends every create,
    decision and expiry of the workspace, so a busy one is not silent for a
    minute. With 10,000 subscribers on a silent socket that is at most 1,001
    reads a minute (about 17 a second, against the ~417 heartbeats a second
    the same listeners send Temporal with the default 30 s heartbeat
    timeout); a missed decision arrives within about a minute for the newest
    50 and within ``ceil(N / reconcile_batch)`` minutes (10 for 10,000) for
    the rest, and a timer that fires first still adopts it (the expire call
    answers 409 with the decision). A shorter interval buys latency on a silent
    socket with reads on every quiet one: a workspace with nothing happening
    is silent too, which is also why silence alone does not close the socket
    (a reconnect would cost a full catch-up, one read per subscriber).
    """

    max_connect_failures: int = 3
    connect_timeout: float = 10.0
    backoff: Sequence[float] = (0.5, 1.0, 2.0)
    catch_up_retry: float = 1.0
    catch_up_concurrency: int = 16
    linger: float = 30.0
    reconcile_interval: float = 60.0
    reconcile_batch: int = 1_000


@dataclass(eq=False)
class _Subscription:
    approval_id: str
    decision: asyncio.Future[Decision]
    caught_up: bool = False
    read_at: float = 0.0  # monotonic time its state was last read; 0: never


@dataclass
class _Stats:
    connects: int = 0
    catch_up_passes: int = 0
    catch_up_reads: int = 0
    reconcile_passes: int = 0
    reconcile_reads: int = 0
    reconciled: int = 0
    frames: int = 0
    delivered: int = 0
    failed_subscribers: int = 0
    started_at: float = field(default_factory=time.monotonic)


class DecisionFeed:
    """The shared socket of one workspace on one platform, and its subscribers."""

    def __init__(self, platform: PlatformClient, options: FeedOptions | None = None) -> None:
        self._platform = platform
        self._options = options or FeedOptions()
        self._subscribers: dict[str, set[_Subscription]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._catch_up_wanted = asyncio.Event()
        self._open = False
        self._idle_since: float | None = None
        self._quiet_since = time.monotonic()  # last frame, (re)connect or reconciliation
        self.stats = _Stats()

    @property
    def connected(self) -> bool:
        return self._open

    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    def caught_up_count(self) -> int:
        """Subscribers whose state was read since the current socket opened."""
        return sum(s.caught_up for subs in self._subscribers.values() for s in subs)

    @contextlib.asynccontextmanager
    async def subscribe(self, approval_id: str) -> AsyncIterator[asyncio.Future[Decision]]:
        """A future that gets the decision for ``approval_id``, or ``FeedUnavailable``.

        Leaving the context unsubscribes (also on cancellation), so a cancelled
        listener leaves nothing behind.
        """
        subscription = _Subscription(approval_id, asyncio.get_running_loop().create_future())
        self._subscribers.setdefault(approval_id, set()).add(subscription)
        self._idle_since = None
        self._catch_up_wanted.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="decision-feed")
        try:
            yield subscription.decision
        finally:
            self._remove(subscription)

    async def close(self) -> None:
        """Stop the socket; pending subscribers are told the feed is gone."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._fail_all(FeedUnavailable("the worker is shutting down"))

    def _remove(self, subscription: _Subscription) -> None:
        subs = self._subscribers.get(subscription.approval_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._subscribers[subscription.approval_id]
        if not subscription.decision.done():
            subscription.decision.cancel()
        if not self._subscribers:
            self._idle_since = time.monotonic()

    def _fail_all(self, error: Exception) -> None:
        for subs in self._subscribers.values():
            for subscription in subs:
                if not subscription.decision.done():
                    subscription.decision.set_exception(error)
                    self.stats.failed_subscribers += 1
        self._subscribers.clear()
        self._idle_since = time.monotonic()

    def _deliver(self, decision: Decision) -> None:
        for subscription in self._subscribers.get(decision.approval_id, ()):
            if not subscription.decision.done():
                subscription.decision.set_result(decision)
                self.stats.delivered += 1

    def _lingered(self) -> bool:
        return (
            not self._subscribers
            and self._idle_since is not None
            and time.monotonic() - self._idle_since >= self._options.linger
        )

    async def _run(self) -> None:
        try:
            await self._connect_and_serve()
        except Exception as error:
            # A bug here must not leave listeners waiting on a feed that no
            # longer reads: they are told, and their workflows poll instead.
            logger.exception("decision feed stopped unexpectedly")
            self._fail_all(FeedUnavailable(f"the shared socket stopped: {error!r}"))

    async def _connect_and_serve(self) -> None:
        failures = 0
        while self._subscribers:
            try:
                async with connect(
                    self._platform.websocket_url(),
                    additional_headers=self._platform.headers(),
                    open_timeout=self._options.connect_timeout,
                    max_size=MAX_FRAME_BYTES,
                ) as socket:
                    failures = 0
                    self.stats.connects += 1
                    await self._serve(socket)  # returns once nobody has listened for a while
            except SOCKET_ERRORS as error:
                failures += 1
                limit = self._options.max_connect_failures
                logger.warning("platform socket failed (%d/%d): %s", failures, limit, error)
                if failures >= limit:
                    self._fail_all(FeedUnavailable(f"socket unavailable after {failures} tries"))
                    return
                backoff = self._options.backoff
                await asyncio.sleep(backoff[min(failures, len(backoff)) - 1])

    async def _serve(self, socket: ClientConnection) -> None:
        """Read frames and run catch-up passes until the socket closes or nobody listens."""
        for subs in self._subscribers.values():
            for subscription in subs:
                subscription.caught_up = False  # nothing was seen while disconnected
        self._catch_up_wanted.set()
        self._quiet_since = time.monotonic()  # the catch-up pass reads everyone anyway
        self._open = True
        catching_up = asyncio.create_task(self._catch_up_loop(), name="decision-feed-catch-up")
        try:
            while not self._lingered():
                try:
                    frame = await asyncio.wait_for(socket.recv(), timeout=1.0)
                except TimeoutError:
                    continue
                self.stats.frames += 1
                self._quiet_since = time.monotonic()
                decision = decision_in_frame(frame)
                if decision is not None:
                    self._deliver(decision)
        finally:
            self._open = False
            catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await catching_up

    async def _catch_up_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._catch_up_wanted.wait(), timeout=self._options.catch_up_retry
                )
            self._catch_up_wanted.clear()
            waiting = [
                subscription
                for subs in self._subscribers.values()
                for subscription in subs
                if not subscription.caught_up and not subscription.decision.done()
            ]
            try:
                if waiting:
                    await self._catch_up(waiting)
                # Not an ``elif``: new subscribers arriving every second must
                # not starve the older ones of their reconciliation.
                if time.monotonic() - self._quiet_since >= self._options.reconcile_interval:
                    await self._reconcile()
            except Exception:
                # Retried in the next pass: a catch-up loop that died would
                # silently lose every decision made before its subscriber joined.
                logger.exception("catch-up pass failed, will retry")

    async def _reconcile(self) -> None:
        """Read the waiting subscribers' state because the socket has said nothing for a while."""
        silent_for = time.monotonic() - self._quiet_since
        waiting = [
            subscription
            for subs in self._subscribers.values()
            for subscription in subs
            if not subscription.decision.done()
        ]
        delivered = self.stats.delivered
        try:
            if waiting:
                self.stats.reconcile_passes += 1
                self.stats.reconcile_reads += await self._catch_up(
                    waiting, single_reads=self._options.reconcile_batch
                )
        finally:
            self._quiet_since = time.monotonic()  # at most one pass per interval, even failed
        found = self.stats.delivered - delivered
        if found:
            self.stats.reconciled += found
            logger.warning(
                "the platform socket was silent for %.0f s; reconciliation found %d decision(s)"
                " it did not deliver",
                silent_for,
                found,
            )

    async def _catch_up(
        self, waiting: Iterable[_Subscription], single_reads: int | None = None
    ) -> int:
        """One pass: the list once, then single reads for what it does not hold.

        Args:
            waiting: the subscriptions whose state to read.
            single_reads: at most this many single-item reads, for the
                subscriptions read longest ago; all of them when ``None``.

        Returns:
            How many reads the pass made (the list read included).
        """
        self.stats.catch_up_passes += 1
        by_id: dict[str, list[_Subscription]] = {}
        for subscription in waiting:
            by_id.setdefault(subscription.approval_id, []).append(subscription)
        try:
            listed: dict[Any, dict[str, Any] | None] = {
                item.get("id"): item for item in await self._platform.list_approvals()
            }
        except PlatformError as error:
            logger.warning("catch-up list read failed, will retry: %s", error)
            listed = {}
        reads = 1
        missing = [approval_id for approval_id in by_id if approval_id not in listed]
        if single_reads is not None and len(missing) > single_reads:
            missing = heapq.nsmallest(
                single_reads,
                missing,
                key=lambda approval_id: min(sub.read_at for sub in by_id[approval_id]),
            )
        limit = asyncio.Semaphore(self._options.catch_up_concurrency)

        async def read_one(approval_id: str) -> None:
            nonlocal reads
            async with limit:
                reads += 1
                try:
                    listed[approval_id] = await self._platform.get_approval(approval_id)
                except PlatformError as error:
                    logger.warning("catch-up read of %s failed, will retry: %s", approval_id, error)

        try:
            await asyncio.gather(*(read_one(approval_id) for approval_id in missing))
        finally:
            self.stats.catch_up_reads += reads
        read_at = time.monotonic()
        for approval_id, subs in by_id.items():
            if approval_id not in listed:
                continue  # not read (failed, or beyond single_reads): a later pass reads it
            decision = decision_from_item(listed[approval_id], approval_id, DecisionSource.CATCH_UP)
            for subscription in subs:
                subscription.caught_up = True
                subscription.read_at = read_at
            if decision is not None:
                self._deliver(decision)
        return reads


class DecisionFeeds:
    """The worker's feeds, one per (platform, workspace, token)."""

    def __init__(self, options: FeedOptions | None = None) -> None:
        self._options = options
        self._feeds: dict[tuple[str, str, str | None], DecisionFeed] = {}

    def for_platform(self, platform: PlatformClient) -> DecisionFeed:
        key = (platform.base_url, platform.workspace_id, platform.token)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = DecisionFeed(platform, self._options)
        return feed

    def feeds(self) -> list[DecisionFeed]:
        return list(self._feeds.values())

    async def close(self) -> None:
        for feed in self._feeds.values():
            await feed.close()
