"""Run the benchmarks and print their tables: ``python -m bench [--quick] [sections...]``.

Each section gets its own dev server (SQLite file, tuned pragmas, the approval
search attributes), platform and worker processes on loopback, in a temporary
directory; its baselines (the floor shape, an idle stack, a drain with no crash)
are measured in the same run. Every table states its targets (issue 9) and
whether they were met.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import burst, holding, latency, rate, recovery, takeover
from bench.load import other_load
from bench.processes import stack

SECTIONS = ("latency", "rate", "holding", "burst", "recovery", "takeover")


@dataclass(frozen=True)
class Sizes:
    latency: int
    rate: int
    holding: tuple[int, ...]
    window: float  # seconds of each idle CPU window in holding
    cache: int | None  # the holding worker's workflow cache (None: the product default)
    burst: int
    recovery: int
    takeover: int


FULL = Sizes(1000, 1000, (1000, 5000, 20_000), 60.0, None, 10_000, 10_000, 1000)
# Quick holding shrinks the worker's workflow cache to 200 so that a level beyond it is cheap.
QUICK = Sizes(100, 200, (200, 600), 10.0, 200, 1000, 200, 200)
HEARTBEAT_TIMEOUT = 10.0  # the listener's, for recovery and takeover (production default 30)


PRODUCT = ("activities", "durable_approvals", "workflows", "worker.py")


def code_state() -> str:
    """The commit measured, and the product files changed on top of it (read-only git)."""

    def git(*args: str) -> str:
        reply = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
        return reply.stdout.rstrip("\n")

    changed = [line[3:] for line in git("status", "--porcelain", "--", *PRODUCT).splitlines()]
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"code: HEAD {head}" + (
        f" + uncommitted changes in {', '.join(changed)}" if changed else " (product clean)"
    )


async def main(sections: list[str], sizes: Sizes, quick: bool, heartbeat_timeout: float) -> None:
    print(
        f"# durable-approvals benchmarks ({'quick' if quick else 'full'})"
        f" - {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}\n\n"
        f"`{shlex.join(['python', '-m', 'bench', *sys.argv[1:]])}`; {code_state()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        for name in sections:
            began = time.perf_counter()
            async with other_load() as load, stack(root / name) as running:
                if name == "latency":
                    table = await latency.run(running, sizes.latency)
                elif name == "rate":
                    table = await rate.run(running, sizes.rate)
                elif name == "holding":
                    table = await holding.run(
                        running, list(sizes.holding), sizes.window, sizes.cache
                    )
                elif name == "burst":
                    table = await burst.run(running, sizes.burst)
                elif name == "recovery":
                    table = await recovery.run(running, sizes.recovery, heartbeat_timeout)
                else:
                    table = await takeover.run(running, sizes.takeover, heartbeat_timeout)
            print(table, flush=True)
            print(
                f"\n({name}: {time.perf_counter() - began:.0f} s; processes outside the"
                f" benchmark used {load.per_second:.2f} CPU s/s meanwhile, load average"
                f" {os.getloadavg()[0]:.1f})",
                flush=True,
            )


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(","))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=", ".join(SECTIONS))
    parser.add_argument("--holding-counts", type=_counts, help="holding levels, e.g. 1000,5000")
    parser.add_argument("--n", type=int, help="N for every other section chosen")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=HEARTBEAT_TIMEOUT,
        help="listener heartbeat timeout (s) for recovery and takeover (default %(default)s)",
    )
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    if args.n is not None:
        n = args.n
        sizes = dataclasses.replace(sizes, latency=n, rate=n, burst=n, recovery=n, takeover=n)
    if args.holding_counts:
        sizes = dataclasses.replace(sizes, holding=args.holding_counts)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.sections or list(SECTIONS), sizes, args.quick, args.heartbeat))
