"""Run the benchmarks and print their tables: ``python -m bench [--quick] [names...]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

from bench import latency
from bench.processes import stack


async def main(args: argparse.Namespace) -> None:
    quick = args.quick
    mode = "quick" if quick else "full"
    when = time.strftime("%Y-%m-%d %H:%M")
    print(
        f"# durable-approvals benchmarks ({mode}) - {when}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        if "latency" in args.names:
            async with stack(root / "latency") as running:
                count = 40 if quick else 200
                print(
                    await latency.run(running, count, poll_interval=1.0, gap=0.05),
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument(
        "names", nargs="*", default=["latency", "throughput", "holding", "recovery"]
    )
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parser.parse_args()))
