"""Run the benchmarks and print their tables: ``python -m bench [--quick] [names...]``.

Each benchmark gets its own dev server (SQLite file, tuned pragmas), platform
and worker processes on loopback, in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

from bench import holding, latency, recovery, throughput
from bench.processes import stack

NAMES = ("latency", "throughput", "holding", "recovery")
RECOVERY_HEARTBEAT_TIMEOUT = 10.0
HOLDING_HEARTBEAT_TIMEOUT = 30.0  # the default: what a production worker pays per waiting approval


async def main(
    names: list[str],
    quick: bool,
    holding_counts: list[int] | None = None,
    holding_heartbeat: float = HOLDING_HEARTBEAT_TIMEOUT,
) -> None:
    mode = "quick" if quick else "full"
    print(
        f"# durable-approvals benchmarks ({mode}) - {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        for name in names:
            async with stack(root / name) as running:
                if name == "latency":
                    count = 40 if quick else 200
                    table = await latency.run(running, count, poll_interval=1.0, gap=0.05)
                elif name == "throughput":
                    table = await throughput.run(running, 100 if quick else 1000)
                elif name == "holding":
                    counts = holding_counts or ([200] if quick else [1000, 10_000])
                    table = await holding.run(running, counts, holding_heartbeat)
                else:
                    count = 100 if quick else 1000
                    table = await recovery.run(running, count, RECOVERY_HEARTBEAT_TIMEOUT)
            print(table, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)}")
    parser.add_argument(
        "--holding-counts",
        type=lambda text: [int(n) for n in text.split(",")],
        help="N values for holding, comma-separated (default 1000,10000; 200 with --quick)",
    )
    parser.add_argument(
        "--holding-heartbeat",
        type=float,
        default=HOLDING_HEARTBEAT_TIMEOUT,
        help="listener heartbeat timeout in seconds for holding (default %(default)s)",
    )
    args = parser.parse_args()
    unknown = set(args.names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(
        main(args.names or list(NAMES), args.quick, args.holding_counts, args.holding_heartbeat)
    )
