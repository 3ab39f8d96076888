"""``python -m tests.soak --minutes N [--seed S] [--out DIR]``: exit 0 only if every
invariant held (the table on stdout, each broken one on stderr)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from tests.soak.checks import AUDIT_MISMATCH
from tests.soak.run import rejudge, soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, required=True, help="how long the load runs")
    parser.add_argument("--seed", type=int, default=22, help="the workload's and faults' seed")
    parser.add_argument("--out", type=Path, help="logs and failing histories (default: a temp dir)")
    parser.add_argument(
        "--fault-every", type=float, default=4.0, help="mean seconds between faults started"
    )
    parser.add_argument(
        "--tolerate",
        action="append",
        default=[],
        choices=[AUDIT_MISMATCH],
        help="count this known finding apart instead of failing (repeatable)",
    )
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="judge the soak whose output is --out again (same --seed and --minutes)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="soak-"))
    began = time.monotonic()
    run = rejudge if args.rejudge else soak
    outcome = asyncio.run(
        run(
            args.minutes * 60,
            args.seed,
            out,
            fault_every=args.fault_every,
            tolerate=frozenset(args.tolerate),
        )
    )
    print(
        f"chaos soak: {args.minutes} min, seed {args.seed}, "
        f"{len(outcome.findings.judged)} approvals, {time.monotonic() - began:.0f} s in all, "
        f"output in {out}"
    )
    print(outcome.table)
    for line in outcome.problems():
        print(line, file=sys.stderr)
    print("all invariants hold" if outcome.ok else "INVARIANTS BROKEN", file=sys.stderr)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
