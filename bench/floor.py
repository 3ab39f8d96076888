"""The floor shape: the least a Temporal workflow of this shape costs, measured in the same run.

``FloorWorkflow`` runs the same number of local activities as ``ApprovalWorkflow``
(four before the wait: "rbac", "create", "requested", "read"; one after it:
"decided"), then waits on a ``decide`` signal or its timer, and nothing else: no
platform, no search attributes, no RBAC file, no fsync. Its local activities do
nothing but the two that write a line to its marks file ("requested" once
waiting, "granted" once decided), in the audit trail's format, so the benchmark
watches both shapes the same way (:mod:`bench.audit_watch`).

Its worker (``python -m bench.floor --marks PATH``) runs in its own process on its
own task queue, with the product worker's settings (``Settings``: cache size,
activity, local-activity and workflow-task slots, sticky timeout), against the
same dev server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pathlib import Path

    from temporalio.client import Client
    from temporalio.worker import Worker

    from durable_approvals.converter import data_converter
    from durable_approvals.sandbox import passing_through
    from durable_approvals.settings import Settings

STEP = timedelta(seconds=10)


class FloorActivities:
    def __init__(self, marks: Path) -> None:
        self._marks = marks

    @activity.defn(name="floor_step")
    async def step(self, name: str) -> None:
        """A local activity that does nothing: what the round trip alone costs."""

    @activity.defn(name="floor_mark")
    async def mark(self, outcome: str) -> None:
        """One line in the marks file, like an audit record (no lock, no fsync)."""
        info = activity.info()
        line = json.dumps(
            {
                "event_id": f"{info.workflow_id}/{info.workflow_run_id}/{outcome}",
                "outcome": outcome,
                "decided_by": "floor" if outcome == "granted" else None,
            }
        )
        with self._marks.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    def __init__(self) -> None:
        self._decided_by: str | None = None

    @workflow.run
    async def run(self, timeout_seconds: float) -> str:
        await workflow.execute_local_activity("floor_step", "rbac", start_to_close_timeout=STEP)
        await workflow.execute_local_activity("floor_step", "create", start_to_close_timeout=STEP)
        await workflow.execute_local_activity(
            "floor_mark", "requested", start_to_close_timeout=STEP
        )
        await workflow.execute_local_activity("floor_step", "read", start_to_close_timeout=STEP)
        try:
            await workflow.wait_condition(
                lambda: self._decided_by is not None, timeout=timedelta(seconds=timeout_seconds)
            )
        except TimeoutError:
            return "timeout"
        await workflow.execute_local_activity("floor_mark", "granted", start_to_close_timeout=STEP)
        return str(self._decided_by)

    @workflow.signal(name="decide")
    def decide(self, decided_by: str) -> None:
        if self._decided_by is None:
            self._decided_by = decided_by


async def serve(marks: Path) -> None:
    settings = Settings()
    client = await Client.connect(settings.temporal_address, data_converter=data_converter)
    activities = FloorActivities(marks)
    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[FloorWorkflow],
        activities=[activities.step, activities.mark],
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_timeout),
        workflow_runner=passing_through([FloorWorkflow]),  # as the product worker's
    )
    await worker.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the floor shape's worker")
    parser.add_argument("--marks", type=Path, required=True)
    # The workflow's module by its name, not ``__main__``: the sandbox passes it through.
    from bench import floor

    asyncio.run(floor.serve(parser.parse_args().marks))
