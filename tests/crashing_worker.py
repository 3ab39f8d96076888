"""The real worker, made to SIGKILL itself at one lifecycle stage.

``python -m tests.crashing_worker`` with the worker's usual settings plus
``CRASH_AT=<activity type>:<before|after>[:<audit outcome>]`` and
``CRASH_JITTER=<seconds>``. An activity interceptor finds the stage: *before*
kills when the activity starts (after a random delay up to the jitter, while
the activity goes on, so the kill lands anywhere around the boundary); *after*
kills once the activity's work is done but before its result reaches the
server, which is the worst moment for idempotency (the effect happened, the
history does not say so). Crash tests need the stage exactly, which no timing
from outside the process can give.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from approvals.settings import Settings
from worker import configure_logging, serve


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashAt(Interceptor):
    def __init__(self, spec: str, jitter: float) -> None:
        activity_type, when, *outcome = spec.split(":")
        if when not in ("before", "after"):
            raise ValueError(f"CRASH_AT: expected before or after, got {when!r}")
        self.activity_type = activity_type
        self.when = when
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
    def __init__(self, next: ActivityInboundInterceptor, crash: CrashAt) -> None:
        super().__init__(next)
        self._crash = crash

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        hit = self._crash.matches(input)
        if hit and self._crash.when == "before":
            delay = random.uniform(0, self._crash.jitter)
            if delay == 0:
                _die()
            asyncio.get_running_loop().call_later(delay, _die)
        result = await super().execute_activity(input)
        if hit and self._crash.when == "after":
            _die()
        return result


def main() -> None:
    configure_logging()
    crash = CrashAt(os.environ["CRASH_AT"], float(os.environ.get("CRASH_JITTER", "0")))
    asyncio.run(serve(Settings(), interceptors=[crash]))


if __name__ == "__main__":
    main()
