"""The real worker, made to SIGKILL itself at one lifecycle stage.

``python -m tests.crashing_worker`` with the worker's usual settings plus
``CRASH_AT`` and ``CRASH_JITTER=<seconds>`` (``CRASH_SIGNAL=STOP``: pause, not kill).
Crash tests need the stage exactly, which no timing from outside the process can
give, so the stage is found inside it, in one of three ways (all test-side: the
product has no hooks):

- ``<activity type>:<before|after>[:<audit outcome>]``: an activity
  interceptor. Local activities (RBAC, create, audit, read once, expire,
  record) go through the worker's activity interceptors like the listener's
  activity does. *before* kills when the activity starts (after a random delay
  up to the jitter, while the activity goes on, so the kill lands anywhere
  around the boundary); *after* kills once the activity's work is done but
  before its result reaches the server, which is the worst moment for
  idempotency (the effect happened, the history does not say so).
- ``listener:waiting``: the workspace listener running in this worker has a
  waiting approval in its sights: Temporal lists the approval as pending and
  the listener holds its socket (``APPROVAL_USE_WEBSOCKET`` auto or true) or has
  finished a poll pass over it (``false``). A watcher started with each listener
  session (``ListenerSession.run`` wrapped here) kills after a random delay up
  to the jitter.
- ``signal:<before|after>``: the listener's ``decide`` signal to the approval's
  workflow, seen by a client interceptor on the worker's Temporal client:
  *before* kills as the signal is about to leave, *after* once the server has
  taken it (the workflow has the decision; the listener's memory that it sent
  it dies with the process).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from typing import Any

from temporalio import activity
from temporalio import client as temporal_client
from temporalio.service import RPCError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from durable_approvals import worker
from durable_approvals.activities.listener import ListenerSession
from durable_approvals.activities.messages import ListenerReport
from durable_approvals.connection import connect
from durable_approvals.models import DECIDE_SIGNAL, WebSocketMode
from durable_approvals.settings import Settings
from durable_approvals.worker import configure_logging, serve

WATCH_EVERY = 0.1


def _die(where: str) -> None:
    """SIGKILL this process, or SIGSTOP it with ``CRASH_SIGNAL=STOP`` (a paused worker: the
    test resumes it with SIGCONT, its stale workflow task and all)."""
    name = os.environ.get("CRASH_SIGNAL", "KILL")
    if name not in ("KILL", "STOP"):
        raise ValueError(f"CRASH_SIGNAL {name!r}: expected KILL or STOP")
    print(f"crashing_worker: SIG{name} {where}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSTOP if name == "STOP" else signal.SIGKILL)


def _die_after(jitter: float, where: str) -> None:
    delay = random.uniform(0, jitter)
    if delay == 0:
        _die(where)
        return  # resumed (CRASH_SIGNAL=STOP)
    asyncio.get_running_loop().call_later(delay, _die, f"{where} (+{delay:.3f} s)")


def _when(spec: str, when: str) -> str:
    if when not in ("before", "after"):
        raise ValueError(f"CRASH_AT {spec!r}: expected before or after, got {when!r}")
    return when


# --- at an activity ----------------------------------------------------------------


class CrashAtActivity(Interceptor):
    def __init__(self, spec: str, jitter: float) -> None:
        activity_type, when, *outcome = spec.split(":")
        self.activity_type = activity_type
        self.when = _when(spec, when)
        self.outcomes = set(outcome[0].split("|")) if outcome else None
        self.jitter = jitter

    def matches(self, input: ExecuteActivityInput) -> bool:
        if activity.info().activity_type != self.activity_type:
            return False
        if self.outcomes is None:
            return True
        entry = input.args[0] if input.args else None
        return getattr(entry, "outcome", None) in self.outcomes

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, crash: CrashAtActivity) -> None:
        super().__init__(next)
        self._crash = crash

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        hit = self._crash.matches(input)
        info = activity.info()
        where = f"{'local ' if info.is_local else ''}activity {info.activity_type}"
        if hit and self._crash.when == "before":
            _die_after(self._crash.jitter, f"as {where} starts")
        result = await super().execute_activity(input)
        if hit and self._crash.when == "after":
            _die(f"as {where} has returned")
        return result


# --- while the listener waits ------------------------------------------------------


def crash_while_listening(jitter: float) -> None:
    """Wrap every listener session with a watcher that kills once it waits with an approval."""
    run = ListenerSession.run

    async def watched(session: ListenerSession) -> ListenerReport:
        watcher = asyncio.create_task(_watch(session, jitter))
        try:
            return await run(session)
        finally:
            watcher.cancel()

    ListenerSession.run = watched  # type: ignore[method-assign,assignment]


async def _watch(session: ListenerSession, jitter: float) -> None:
    # The session's own index and counters: what the listener knows, not a guess from outside.
    while not await _pending(session):
        await asyncio.sleep(WATCH_EVERY)
    if session._config.websocket is WebSocketMode.FALSE:
        passes = session._stats["poll_passes"]
        while session._stats["poll_passes"] <= passes:  # one whole pass over the approval
            await asyncio.sleep(WATCH_EVERY / 2)
    else:
        while session._stats["connects"] < 1:
            await asyncio.sleep(WATCH_EVERY / 2)
    _die_after(jitter, f"while the listener waits ({session._config.websocket.value})")


async def _pending(session: ListenerSession) -> bool:
    try:
        return bool(await session._index.pending())
    except RPCError:  # a slow visibility answer: ask again
        return False


# --- around the listener's signal --------------------------------------------------


class CrashAtSignal(temporal_client.Interceptor):
    def __init__(self, spec: str) -> None:
        _, when = spec.split(":")
        self.when = _when(spec, when)

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _SignalOutbound(next, self.when)


class _SignalOutbound(temporal_client.OutboundInterceptor):
    def __init__(self, next: temporal_client.OutboundInterceptor, when: str) -> None:
        super().__init__(next)
        self._when = when

    async def signal_workflow(self, input: temporal_client.SignalWorkflowInput) -> None:
        hit = input.signal == DECIDE_SIGNAL
        if hit and self._when == "before":
            _die(f"as the listener signals {input.id}")
        await super().signal_workflow(input)
        if hit and self._when == "after":
            _die(f"once the listener has signalled {input.id}")


def crash_around_signals(spec: str) -> None:
    """Give the worker's Temporal client (which the listener signals with) the interceptor."""

    async def connect_intercepted(settings: Settings, **options: Any) -> temporal_client.Client:
        client = await connect(settings, **options)
        config = client.config()
        config["interceptors"] = [*config["interceptors"], CrashAtSignal(spec)]
        return temporal_client.Client(**config)

    worker.connect = connect_intercepted  # type: ignore[attr-defined]


def main() -> None:
    configure_logging()
    spec = os.environ["CRASH_AT"]
    jitter = float(os.environ.get("CRASH_JITTER", "0"))
    interceptors: list[Interceptor] = []
    if spec == "listener:waiting":
        crash_while_listening(jitter)
    elif spec.startswith("signal:"):
        crash_around_signals(spec)
    else:
        interceptors.append(CrashAtActivity(spec, jitter))
    asyncio.run(serve(Settings(), interceptors=interceptors))


if __name__ == "__main__":
    main()
