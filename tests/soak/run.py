"""One soak: the stack, the workload and the faults for N minutes, then the checks."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.soak.chaos import planned_faults, run_faults
from tests.soak.checks import Findings, judge_all
from tests.soak.logs import Traceback, scan
from tests.soak.report import details, render
from tests.soak.stack import running_stack
from tests.soak.ways import Attempt
from tests.soak.workload import Approval, planned_attempts, run_workload, schedule

SETTLE_BOUND = 240.0
"""Seconds every workflow has to close after the load stops (its longest wait is 32 s)."""


@dataclass
class Outcome:
    """What a soak found, its table, and whether every invariant held."""

    findings: Findings
    faults: Counter[str]
    unexpected: list[Traceback]
    table: str

    @property
    def ok(self) -> bool:
        return not any(self.findings.counts().values()) and not self.unexpected

    def problems(self) -> list[str]:
        lines = details(self.findings)
        lines += [f"traceback {t.path.name}:{t.line}:\n{t.text}" for t in self.unexpected]
        return lines


async def soak(
    seconds: float,
    seed: int,
    out: Path,
    *,
    every: float = 1.5,
    fault_every: float = 4.0,
    tolerate: frozenset[str] = frozenset(),
) -> Outcome:
    """Run the workload and the faults for ``seconds`` (seeded), then judge; logs and
    failing histories go under ``out``. ``tolerate``: kinds of finding counted apart."""
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "soak.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    try:
        async with running_stack(out) as stack:
            workload = asyncio.create_task(
                run_workload(stack, random.Random(f"{seed}-load"), seconds, every)
            )
            faults = await run_faults(stack, random.Random(f"{seed}-faults"), seconds, fault_every)
            approvals = await workload
            findings = await judge_all(stack, approvals, SETTLE_BOUND, out, tolerate)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    logs = [*out.glob("*/worker-*.log"), out / "temporal.log", out / "soak.log"]
    allowed, unexpected = scan(logs)
    table = render(findings, faults, len(unexpected), allowed)
    return Outcome(findings, faults, unexpected, table)


async def rejudge(
    seconds: float,
    seed: int,
    out: Path,
    *,
    every: float = 1.5,
    fault_every: float = 4.0,
    tolerate: frozenset[str] = frozenset(),
) -> Outcome:
    """Judge a soak again from its output ``out`` (same seed and length): its approvals
    are found in the Temporal file by number, their plans and decisions drawn again from
    the seed, the faults counted from the seed (the exits from the workers' logs)."""
    async with running_stack(out) as stack:
        by_mode = {side.mode: side for side in stack.sides}
        ids: dict[int, str] = {}
        async for found in stack.client.list_workflows("WorkflowType='ApprovalWorkflow'"):
            ids[int(found.id.split("-")[1])] = found.id
        approvals = []
        for plan, request, drive_seed, _ in schedule(random.Random(f"{seed}-load"), tuple(by_mode)):
            if plan.number not in ids:
                break
            approval = Approval(plan, request, ids[plan.number], by_mode[plan.mode])
            approval.attempts = [
                Attempt(way, by, approved, datetime.now(UTC), "redrawn")
                for way, by, approved in planned_attempts(plan, drive_seed)
            ]
            approvals.append(approval)
        findings = await judge_all(stack, approvals, SETTLE_BOUND, out, tolerate)
    faults = planned_faults(random.Random(f"{seed}-faults"), seconds, fault_every)
    logs = [*out.glob("*/worker-*.log"), out / "temporal.log", out / "soak.log"]
    allowed, unexpected = scan(logs)
    faults["worker exited by itself (started again)"] = sum(
        1
        for path in out.glob("*/worker-*.log")
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("RuntimeError: Failed client connect")
    )
    return Outcome(findings, faults, unexpected, render(findings, faults, len(unexpected), allowed))
