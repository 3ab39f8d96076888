"""The workspace listener: one activity per workspace for the whole fleet of workers.

It signals ``decide`` to the ApprovalWorkflow that owns each decided approval, from
the platform's socket, catch-up and reconciliation passes, or polling. How it
misses nothing: docs/waiting-path.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.service import RPCError, RPCStatusCode
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.activities.events import (
    MAX_FRAME_BYTES,
    decision_from_item,
    decision_in_frame,
    votes_from_item,
)
from durable_approvals.activities.late_decisions import LateDecisionAudit
from durable_approvals.activities.messages import ListenerConfig, ListenerReport
from durable_approvals.activities.owner_hints import requested_owner
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.metrics import ListenerMetrics
from durable_approvals.models import DECIDE_SIGNAL, Decision, DecisionSource, WebSocketMode
from durable_approvals.platform_client import PlatformClient, PlatformError

logger = logging.getLogger(__name__)

SOCKET_ERRORS = (OSError, TimeoutError, InvalidHandshake, WebSocketException)


@dataclass(frozen=True)
class ListenerTuning:
    """How patient the listener is; docs/waiting-path.md explains each field."""

    max_connect_failures: int = 3
    connect_timeout: float = 10.0
    close_timeout: float = 2.0
    backoff: tuple[float, ...] = (0.5, 1.0, 2.0)
    socket_retry: float = 30.0
    settle: float = 3.0
    reconcile_interval: float = 60.0
    reconcile_batch: int = 1_000
    reconcile_spread: float = 0.5
    listing_margin: float = 60.0
    poll_batch: int = 1_000
    read_concurrency: int = 16
    signal_concurrency: int = 32
    unowned_grace: float = 30.0
    remembered_signals: int = 100_000


@dataclass(frozen=True)
class ReadPlan:
    """What one read pass reads."""

    full_listing: bool
    """List every pending approval from visibility (else only what could have changed
    since the session's last listing)."""
    single_reads: int | None = None
    """At most this many single reads, longest unread first (``None``: no limit)."""
    spread: float = 0.0
    """Seconds over which the single reads are spread (0: as fast as they go)."""


class ListenerActivities:
    def __init__(
        self,
        client: Client,
        access: PlatformAccess,
        tuning: ListenerTuning | None = None,
        late: LateDecisionAudit | None = None,
    ) -> None:
        self._client = client
        self._access = access
        self._tuning = tuning or ListenerTuning()
        self._late = late

    @activity.defn
    async def listen_workspace(self, config: ListenerConfig) -> ListenerReport:
        """Deliver the workspace's decisions by signal for ``config.session_seconds``."""
        info = activity.info()
        platform = self._access.client(config.workspace_id)
        index = ApprovalIndex(self._client, info.task_queue, config.workspace_id)
        metrics = ListenerMetrics(activity.metric_meter(), config.workspace_id)
        # The server stamped the attempt's start: listings are bounded on its clock.
        clock_offset = info.started_time - datetime.now(UTC)
        session = ListenerSession(
            self._client, platform, index, config, self._tuning, self._late, metrics, clock_offset
        )
        return await session.run()


class ListenerSession:
    """One run of the listener: socket or polling, catch-up, signalling."""

    def __init__(
        self,
        client: Client,
        platform: PlatformClient,
        index: ApprovalIndex,
        config: ListenerConfig,
        tuning: ListenerTuning,
        late: LateDecisionAudit | None = None,
        metrics: ListenerMetrics | None = None,
        clock_offset: timedelta = timedelta(0),
    ) -> None:
        self._client = client
        self._late = late
        self._metrics = metrics or ListenerMetrics(MetricMeter.noop, config.workspace_id)
        self._platform = platform
        self._index = index
        self._config = config
        self._tuning = tuning
        self._stats: dict[str, int] = dict(ListenerReport().model_dump())
        self._signalled: OrderedDict[tuple[str, bool, str], None] = OrderedDict()
        self._in_flight: set[tuple[str, bool, str]] = set()
        self._new_unowned = asyncio.Event()
        self._unowned: dict[str, tuple[Decision, float]] = {}
        self._read_at: dict[str, float] = {}
        self._unreadable: set[str] = set()
        self._signals = asyncio.Semaphore(tuning.signal_concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._quiet_since = time.monotonic()
        self._ends = 0.0
        self._clock_offset = clock_offset
        self._pending: dict[str, str] = {}  # approval id → workflow id, as of the last listing
        self._listed_since: datetime | None = None  # the next listing's bound (server clock)

    async def run(self) -> ListenerReport:
        self._ends = time.monotonic() + self._config.session_seconds
        background = [
            asyncio.create_task(self._heartbeat(), name="listener-heartbeat"),
            asyncio.create_task(self._retry_unowned(), name="listener-unowned"),
        ]
        try:
            mode = self._config.websocket
            while not self._over():
                if mode is WebSocketMode.FALSE:
                    await self._poll(until=self._ends)
                elif await self._listen_on_socket():
                    continue
                elif mode is WebSocketMode.AUTO:
                    logger.warning(
                        "platform socket unavailable; polling every %gs, socket retried in %gs",
                        self._config.poll_interval_seconds,
                        self._tuning.socket_retry,
                    )
                    await self._poll(until=time.monotonic() + self._tuning.socket_retry)
                else:
                    await asyncio.sleep(self._tuning.backoff[-1])
        finally:
            self._metrics.session_ended()
            for task in [*background, *self._tasks]:
                task.cancel()
            await asyncio.gather(*background, *self._tasks, return_exceptions=True)
            if self._unowned:
                # The next session's catch-up reads every pending approval again.
                logger.warning(
                    "session ends with %d undelivered decision(s); the next catch-up reads them",
                    len(self._unowned),
                )
        return ListenerReport(**self._stats)

    def _over(self) -> bool:
        return time.monotonic() >= self._ends

    def _count(self, name: str, by: int = 1) -> None:
        self._stats[name] += by
        self._metrics.count(name, by)

    def _platform_failed(self, operation: str, error: Exception) -> None:
        if isinstance(error, PlatformError):
            self._metrics.platform_error(operation, error.kind)

    async def _heartbeat(self) -> None:
        timeout = activity.info().heartbeat_timeout
        beat = max(0.2, timeout.total_seconds() / 3) if timeout else 10.0
        while True:
            activity.heartbeat()
            await asyncio.sleep(beat)

    # --- socket --------------------------------------------------------------------

    async def _listen_on_socket(self) -> bool:
        """Serve the socket until the session ends (True) or it cannot be opened (False)."""
        failures = 0
        while not self._over():
            try:
                async with connect(
                    self._platform.websocket_url(),
                    additional_headers=self._platform.headers(),
                    open_timeout=self._tuning.connect_timeout,
                    close_timeout=self._tuning.close_timeout,
                    max_size=MAX_FRAME_BYTES,
                ) as socket:
                    failures = 0
                    self._count("connects")
                    await self._serve(socket)
            except (*SOCKET_ERRORS, PlatformError) as error:  # PlatformError: an unusable token
                self._metrics.platform_error("websocket", type(error).__name__)
                failures += 1
                limit = self._tuning.max_connect_failures
                logger.warning("platform socket failed (%d/%d): %s", failures, limit, error)
                if failures >= limit:
                    return False
                backoff = self._tuning.backoff
                await asyncio.sleep(backoff[min(failures, len(backoff)) - 1])
        return True

    async def _serve(self, socket: ClientConnection) -> None:
        """Read frames until the socket closes or the session ends; catch up meanwhile."""
        self._quiet_since = time.monotonic()
        self._metrics.socket_open()
        catching_up = asyncio.create_task(self._catch_up_and_reconcile())
        try:
            while not self._over():
                try:
                    # Not asyncio.wait_for: on 3.11 it swallows a cancellation that
                    # arrives in the step a frame does (docs/waiting-path.md).
                    async with asyncio.timeout(1.0):
                        frame = await socket.recv()
                except TimeoutError:
                    continue
                self._count("frames")
                self._quiet_since = time.monotonic()
                owner = requested_owner(frame, self._config.workspace_id)
                if owner is not None:
                    self._index.learn(*owner)
                    self._count("owners_learned")
                    continue
                decision = decision_in_frame(frame)
                if decision is not None:
                    self._deliver(decision)
        finally:
            self._metrics.socket_closed()
            catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await catching_up

    async def _catch_up_and_reconcile(self) -> None:
        """Catch up now (a full listing) and once more after ``settle``; then reconcile
        every interval, its single reads spread over part of it."""
        await self._pass_until_done(ReadPlan(full_listing=True))
        await asyncio.sleep(self._tuning.settle)
        await self._pass_until_done(ReadPlan(full_listing=False))
        interval = self._tuning.reconcile_interval
        reconcile = ReadPlan(
            full_listing=False,
            single_reads=self._tuning.reconcile_batch,
            spread=interval * self._tuning.reconcile_spread,
        )
        next_pass = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_pass - time.monotonic()))
            next_pass = max(next_pass + interval, time.monotonic())
            silent_for = time.monotonic() - self._quiet_since
            found = await self._pass_until_done(reconcile)
            if found:
                logger.warning(
                    "reconciliation found %d decision(s) the socket did not deliver "
                    "(last frame %.0f s ago)",
                    found,
                    silent_for,
                )

    async def _pass_until_done(self, plan: ReadPlan) -> int:
        """One read pass, retried each second until it succeeds; returns decisions found."""
        while True:
            try:
                return await self._read_pass(plan, DecisionSource.CATCH_UP)
            except (PlatformError, RPCError) as error:
                self._platform_failed("list_approvals", error)
                logger.warning("catch-up pass failed, will retry: %s", error)
            except Exception:  # a pass that died would hide what the socket missed
                logger.exception("catch-up pass failed unexpectedly, will retry")
            await asyncio.sleep(1.0)

    # --- polling -------------------------------------------------------------------

    async def _poll(self, until: float) -> None:
        while time.monotonic() < min(until, self._ends):
            try:
                plan = ReadPlan(full_listing=False, single_reads=self._tuning.poll_batch)
                await self._read_pass(plan, DecisionSource.POLLING)
                self._count("poll_passes")
            except (PlatformError, RPCError) as error:
                self._platform_failed("list_approvals", error)
                logger.warning("poll pass failed, will retry: %s", error)
            except Exception:
                logger.exception("poll pass failed unexpectedly, will retry")
            remaining = min(until, self._ends) - time.monotonic()
            await asyncio.sleep(max(0.0, min(self._config.poll_interval_seconds, remaining)))

    # --- reads ---------------------------------------------------------------------

    async def _read_pass(self, plan: ReadPlan, source: DecisionSource) -> int:
        """Read the pending approvals' state (the list, then single reads of the ones it
        did not hold, longest unread first); deliver the decided ones; return how many."""
        pending = await self._list_pending(plan.full_listing)
        self._metrics.pending(len(pending))
        for gone in set(self._read_at) - set(pending):
            del self._read_at[gone]
        if not pending:
            return 0
        reply = await self._platform.read_list()
        self._count("catch_up_reads")
        self._count("skipped_items", reply.skipped)
        read = {item["id"] for item in reply.items if item["id"] in pending}
        found = sum(
            self._take(item, pending[item["id"]], source)
            for item in reply.items
            if item["id"] in read
        )
        missing = sorted(
            (a for a in pending if a not in read), key=lambda a: self._read_at.get(a, 0.0)
        )
        if plan.single_reads is not None:
            missing = missing[: plan.single_reads]
        if missing and self._platform.has_single_item_route is not False:
            found += await self._read_each(missing, pending, source, plan.spread, read)
        if self._platform.has_single_item_route is False:
            self._warn_unreadable([a for a in missing if a not in read])
        return found

    async def _list_pending(self, full: bool) -> dict[str, str]:
        """The pending approvals (approval id → workflow id): all of them from visibility
        (``full``, or the session's first listing), else the last listing's, updated with
        what started or closed since then (docs/waiting-path.md, "What a pass lists")."""
        now = datetime.now(UTC) + self._clock_offset
        next_bound = now - timedelta(seconds=self._tuning.listing_margin)
        listed_before = self._index.listed
        # A workflow still creating its request started before it became findable: the
        # next listing reaches back to it. Asked first, so that none falls between.
        unfindable = await self._index.earliest_unfindable_start()
        if unfindable is not None and unfindable < next_bound:
            next_bound = unfindable
        if full or self._listed_since is None:
            self._pending = await self._index.pending()
        else:
            closed = await self._index.closed_since(self._listed_since)
            started = await self._index.pending(started_since=self._listed_since)
            for approval_id in closed:
                self._pending.pop(approval_id, None)
            self._pending.update(started)
        self._listed_since = next_bound
        self._metrics.count("listed", self._index.listed - listed_before)
        return dict(self._pending)  # a signal's NOT_FOUND may drop one from the session's map

    def _take(self, item: dict[str, Any], workflow_id: str, source: DecisionSource) -> int:
        """Deliver what one read item holds; 1 if it holds a decision not delivered yet
        (by the socket or an earlier pass), else 0."""
        approval_id = item["id"]
        self._read_at[approval_id] = time.monotonic()
        for vote in votes_from_item(item, approval_id, source):  # N-of-M [ext]
            self._deliver(vote, workflow_id)
        decision = decision_from_item(item, approval_id, source)
        if decision is None:
            return 0
        return int(self._deliver(decision, workflow_id))

    def _warn_unreadable(self, approval_ids: list[str]) -> None:
        """Warn once per approval that cannot be read (beyond the newest 50, no single route)."""
        new = [a for a in approval_ids if a not in self._unreadable]
        if new:
            self._unreadable.update(new)
            self._count("unreadable", len(new))
            logger.warning(
                "%d pending approval(s) fell out of the platform's newest 50 and cannot be read"
                " (no single-item route): a decision the socket missed for them will not be"
                " seen, e.g. %s",
                len(new),
                new[0],
            )

    async def _read_each(
        self,
        approval_ids: Sequence[str],
        pending: dict[str, str],
        source: DecisionSource,
        spread: float,
        read: set[str],
    ) -> int:
        """Read each approval on its own (``spread`` over that many seconds), delivering as
        they come; adds the ones read to ``read``; returns how many were decided."""
        limit = asyncio.Semaphore(self._tuning.read_concurrency)
        found = 0

        async def read_one(approval_id: str) -> None:
            nonlocal found
            async with limit:
                self._count("catch_up_reads")
                try:
                    item = await self._platform.get_approval(approval_id)
                except PlatformError as error:
                    self._platform_failed("get_approval", error)
                    logger.warning("read of %s failed, will retry: %s", approval_id, error)
                    return
            if item is not None:
                read.add(approval_id)
                found += self._take(item, pending[approval_id], source)

        gap = spread / len(approval_ids) if approval_ids else 0.0
        async with asyncio.TaskGroup() as reads:
            for approval_id in approval_ids:
                reads.create_task(read_one(approval_id))
                if gap:
                    await asyncio.sleep(gap)
        return found

    # --- signalling ------------------------------------------------------------------

    def _deliver(self, decision: Decision, workflow_id: str | None = None) -> bool:
        """Signal ``decision`` to its workflow unless it was (or is being) already; says
        whether this call started a delivery."""
        key = (decision.approval_id, decision.approved, decision.decided_by)
        if key in self._signalled or key in self._in_flight:
            return False  # seen on the socket and in a pass, or twice on the socket
        self._in_flight.add(key)
        task = asyncio.create_task(self._signal(decision, workflow_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._in_flight.discard(key))
        return True

    async def _signal(self, decision: Decision, workflow_id: str | None) -> None:
        """Signal the owner of the approval; an unowned one is kept for ``_retry_unowned``."""
        approval_id = decision.approval_id
        async with self._signals:
            try:
                if workflow_id is None:
                    lookups = self._index.lookups
                    workflow_id = await self._index.owner(approval_id)
                    self._count("owner_lookups", self._index.lookups - lookups)
            except RPCError as error:
                logger.warning("look-up of %s failed, will retry: %s", approval_id, error)
                self._keep_for_retry(decision, temporal_failed=True)
                return
            if workflow_id is None:
                if await self._audit_if_late(decision):
                    self._unowned.pop(approval_id, None)
                else:
                    self._keep_for_retry(decision, temporal_failed=False)
                return
            try:
                await self._client.get_workflow_handle(workflow_id).signal(DECIDE_SIGNAL, decision)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    logger.warning("signal to %s failed, will retry: %s", workflow_id, error)
                    self._keep_for_retry(decision, temporal_failed=True)
                    return
                self._index.forget(approval_id)  # its workflow has just finished
                self._pending.pop(approval_id, None)
                if not await self._audit_if_late(decision):
                    self._keep_for_retry(decision, temporal_failed=False)
                    return
            else:
                self._remember_signal(decision)
                self._count("signalled")
        self._unowned.pop(approval_id, None)

    async def _audit_if_late(self, decision: Decision) -> bool:
        """True when the approval's workflow has finished (the decision is then audited as late)."""
        if self._late is None:
            return False
        try:
            closed = await self._index.closed_owner(decision.approval_id)
            if closed is None:
                return False
            await self._late.record(decision, *closed)
        except (RPCError, LookupError) as error:
            logger.warning("late decision for %s not audited yet: %s", decision.approval_id, error)
            return False
        self._remember_signal(decision)
        return True

    def _keep_for_retry(self, decision: Decision, *, temporal_failed: bool) -> None:
        """Keep an undelivered decision for ``_retry_unowned``; a Temporal failure restarts its
        grace period."""
        approval_id = decision.approval_id
        known = approval_id in self._unowned
        if temporal_failed or not known:
            self._unowned[approval_id] = (decision, time.monotonic())
        if not known:
            self._new_unowned.set()

    def _remember_signal(self, decision: Decision) -> None:
        self._signalled[(decision.approval_id, decision.approved, decision.decided_by)] = None
        while len(self._signalled) > self._tuning.remembered_signals:
            self._signalled.popitem(last=False)

    async def _retry_unowned(self) -> None:
        """Retry events that no running workflow owned yet, with backoff, for a grace period."""
        delay = 1.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: see _serve
                    await self._new_unowned.wait()
                delay = 0.25  # a new one: look it up again soon
                await asyncio.sleep(delay)
            self._new_unowned.clear()
            if not self._unowned:
                delay = 1.0
                continue
            now = time.monotonic()
            for approval_id, (decision, since) in list(self._unowned.items()):
                if now - since > self._tuning.unowned_grace:
                    del self._unowned[approval_id]
                    self._count("unowned_events")
                    logger.debug("no running workflow owns approval %s: ignored", approval_id)
                else:
                    await self._signal(decision, None)
            delay = min(delay * 2, 4.0)
