"""The seeded fault scheduler: workers SIGKILLed and paused (SIGSTOP/SIGCONT, some past
the 10 s workflow task timeout), platforms restarted, the Temporal server restarted
(same SQLite file, same port), sockets dropped and stalled, creates slowed and failed
(through the test-side hooks, tests/platform_faults.py)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from tests.soak.stack import Side, Stack

LOG = logging.getLogger("tests.soak.faults")

KINDS = {
    "worker SIGKILL": 3,
    "worker SIGSTOP/SIGCONT": 3,
    "platform restart": 2,
    "Temporal restart (SIGTERM)": 1,
    "Temporal restart (SIGKILL)": 1,
    "socket dropped every 0.5 s": 1,
    "socket stalled (silent)": 1,
    "platform slow (create reply delayed)": 1,
    "platform 503 on create": 1,
}
"""Each kind and how many times it comes in a round of faults (shuffled, seeded)."""


async def _switch(side: Side, seconds: float, **faults: object) -> None:
    for name, value in faults.items():
        setattr(side.platform.faults, name, value)
    try:
        await asyncio.sleep(seconds)
    finally:
        side.platform.faults.reset()


@dataclass
class Locks:
    """One fault at a time per target: a worker, a side's platform, the Temporal server."""

    by_target: dict[object, asyncio.Lock] = field(default_factory=dict)

    def of(self, target: object) -> asyncio.Lock:
        return self.by_target.setdefault(id(target), asyncio.Lock())


async def inject(kind: str, rng: random.Random, stack: Stack, locks: Locks) -> None:
    """Inject one fault of ``kind`` once its target is free (the choices are drawn first,
    so the schedule depends on the seed alone, not on timing)."""
    side = rng.choice(stack.sides)
    fleet = rng.choice(side.fleets)
    LOG.warning("fault: %s [%s, worker %s]", kind, side.mode, side.fleets.index(fleet))
    down = rng.uniform(0.5, 5.0)
    pause = rng.choice([rng.uniform(1, 5), rng.uniform(11, 16)])
    switched_for = rng.uniform(3, 12)
    delay = rng.uniform(1, 7)
    if kind == "worker SIGKILL":
        async with locks.of(fleet):
            fleet.kill()
            await asyncio.sleep(down)
            fleet.start()
    elif kind == "worker SIGSTOP/SIGCONT":
        async with locks.of(fleet):
            await fleet.pause(pause)
    elif kind == "platform restart":
        async with locks.of(side.platform):
            await side.platform.stop()
            await asyncio.sleep(down)
            await side.platform.start()
    elif kind.startswith("Temporal restart"):
        async with locks.of(stack.temporal):
            await asyncio.to_thread(stack.temporal.stop, kill="SIGKILL" in kind)
            await asyncio.sleep(down)
            await asyncio.to_thread(stack.temporal.start)
    else:
        options: dict[str, dict[str, object]] = {
            "socket dropped every 0.5 s": {"websocket_drop_after_seconds": 0.5},
            "socket stalled (silent)": {"websocket_silent": True},
            "platform slow (create reply delayed)": {"create_delay_seconds": delay},
            "platform 503 on create": {
                "create_status": 503,
                "create_body": '{"error": "unavailable (soak)"}',
            },
        }
        async with locks.of(side.platform.faults):
            await _switch(side, switched_for, **options[kind])


def planned_faults(rng: random.Random, seconds: float, every: float) -> Counter[str]:
    """The kinds ``run_faults`` starts in ``seconds`` with this ``rng`` (its draws replayed,
    its own overhead left out), for judging a soak again from its output."""
    counts: Counter[str] = Counter()
    elapsed = 0.0
    round_: list[str] = []
    while elapsed < seconds:
        elapsed += rng.uniform(0.5, 1.5) * every
        if not round_:
            round_ = [kind for kind, weight in KINDS.items() for _ in range(weight)]
            rng.shuffle(round_)
        counts[round_.pop()] += 1
        rng.random()
    return counts


async def run_faults(
    stack: Stack, rng: random.Random, seconds: float, every: float
) -> Counter[str]:
    """Start a seeded fault every ``every`` seconds on average for ``seconds`` (faults on
    different targets overlap), wait for them to end, then bring everything back
    (workers, platforms, Temporal, no switch on). Returns the counts by kind."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    counts: Counter[str] = Counter()
    running: set[asyncio.Task[None]] = set()
    locks = Locks()
    round_: list[str] = []
    try:
        while loop.time() < until:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * every)
            if not round_:  # each kind its weight's times per round, in a seeded order
                round_ = [kind for kind, weight in KINDS.items() for _ in range(weight)]
                rng.shuffle(round_)
            kind = round_.pop()
            counts[kind] += 1
            for side in stack.sides:  # a supervisor: a worker gone by itself comes back
                side.start_workers()
            task = asyncio.create_task(inject(kind, random.Random(rng.random()), stack, locks))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)
    finally:
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.to_thread(stack.temporal.start)
        for side in stack.sides:
            side.platform.faults.reset()
            if not side.platform.running:
                await side.platform.start()
            side.start_workers()
        counts["worker exited by itself (started again)"] = sum(
            fleet.exits for side in stack.sides for fleet in side.fleets
        )
    return counts
