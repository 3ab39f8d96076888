"""How much CPU other processes on this machine used while a section ran.

The benchmark shares its CPUs with whatever else runs; the same-run baselines
absorb a steady load, not a changing one. Each section's footer states the CPU
seconds per second that processes outside the benchmark's own process tree used
meanwhile (sampled every 2 s), so a noisy figure can be recognised as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psutil

EVERY = 2.0


def _ours() -> set[int]:
    me = psutil.Process(os.getpid())
    return {me.pid, *(child.pid for child in me.children(recursive=True))}


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class OtherLoad:
    seconds: float = 0.0  # CPU seconds used by other processes
    elapsed: float = 0.0
    _last: dict[int, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.seconds / self.elapsed if self.elapsed else 0.0

    def sample(self, started: float) -> None:
        ours = _ours()
        seen: dict[int, float] = {}
        for process in psutil.process_iter():
            if process.pid in ours:
                continue
            with contextlib.suppress(psutil.Error):
                used = _cpu(process)
                seen[process.pid] = used
                if process.pid in self._last:
                    self.seconds += max(0.0, used - self._last[process.pid])
                elif process.create_time() >= started:
                    self.seconds += used
        self._last = seen


@contextlib.asynccontextmanager
async def other_load() -> AsyncIterator[OtherLoad]:
    load = OtherLoad()
    started, began = time.time(), time.perf_counter()

    async def sampler() -> None:
        while True:
            await asyncio.to_thread(load.sample, started)
            load.elapsed = time.perf_counter() - began
            await asyncio.sleep(EVERY)

    task = asyncio.create_task(sampler())
    try:
        yield load
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(load.sample, started)
        load.elapsed = time.perf_counter() - began
