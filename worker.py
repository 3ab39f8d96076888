"""Run the approvals worker: ``python worker.py`` (settings from the environment).

It wires settings → Temporal client → worker with every workflow and activity
registered, checks at start what would otherwise fail later (an empty
WORKSPACE_ID, an unwritable audit path), and drains cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from activities.audit import AuditActivities
from activities.decision_feed import DecisionFeeds
from activities.platform_http import PlatformHttpActivities
from activities.platform_ws import PlatformWebSocketActivities
from activities.rbac import RbacActivities
from activities.workspace import PlatformAccess
from approvals.audit_log import AuditLog, AuditUnwritableError
from approvals.connection import connect
from approvals.models import require_identifier
from approvals.redaction import RedactingFilter
from approvals.settings import Settings
from workflows.approval import ApprovalWorkflow

logger = logging.getLogger("approvals.worker")

WORKFLOWS: Sequence[type] = (ApprovalWorkflow,)


class StartupError(SystemExit):
    """A setting that makes the worker useless; reported in one line, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


def check_settings(settings: Settings) -> AuditLog:
    """Fail at start, not at the first approval."""
    if not settings.workspace_id.strip():
        raise StartupError("WORKSPACE_ID is empty: set it to the workspace this worker serves")
    try:
        # Requests name their workspace as an Identifier: any other id could never match.
        require_identifier(settings.workspace_id, "WORKSPACE_ID")
    except ValueError as error:
        raise StartupError(str(error)) from None
    audit_log = AuditLog(settings.audit_log_path)
    try:
        audit_log.ensure_writable()
    except AuditUnwritableError as error:
        raise StartupError(f"AUDIT_LOG_PATH unusable: {error.strerror}") from error
    return audit_log


@contextlib.asynccontextmanager
async def build_worker(
    client: Client,
    settings: Settings,
    audit_log: AuditLog,
    *,
    task_queue: str | None = None,
    feeds: DecisionFeeds | None = None,
    **worker_options: object,
) -> AsyncIterator[Worker]:
    """A worker with every workflow and activity; one HTTP pool and one socket per workspace.

    Every pending approval holds one listener (or poller) activity slot for as
    long as it waits, so the slot limit is the number of approvals this worker
    can wait on at once, not a CPU budget: those activities are idle coroutines.

    ``feeds`` (the shared sockets) defaults to production patience; tests pass
    their own, with short intervals, to watch it. Either way it is closed with
    the worker.
    """
    worker_options.setdefault(
        "max_concurrent_activities", settings.worker_max_concurrent_activities
    )
    worker_options.setdefault("max_cached_workflows", settings.worker_max_cached_workflows)
    worker_options.setdefault(
        "sticky_queue_schedule_to_start_timeout", timedelta(seconds=settings.worker_sticky_timeout)
    )
    limits = httpx.Limits(max_connections=settings.platform_http_max_connections)
    async with httpx.AsyncClient(timeout=settings.platform_http_timeout, limits=limits) as http:
        access = PlatformAccess(settings, http)
        feeds = feeds if feeds is not None else DecisionFeeds()
        http_activities = PlatformHttpActivities(access)
        ws_activities = PlatformWebSocketActivities(access, feeds)
        rbac = RbacActivities(settings)
        audit = AuditActivities(audit_log)
        try:
            yield Worker(
                client,
                task_queue=task_queue or settings.temporal_task_queue,
                workflows=list(WORKFLOWS),
                activities=[
                    rbac.check_permission,
                    http_activities.create_approval,
                    http_activities.poll_for_decision,
                    http_activities.expire_approval,
                    http_activities.record_decision,
                    ws_activities.listen_for_decision,
                    audit.write_audit,
                ],
                **worker_options,  # type: ignore[arg-type]
            )
        finally:
            await feeds.close()


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def serve(settings: Settings, *, interceptors: Sequence[Interceptor] = ()) -> None:
    """Run until SIGINT/SIGTERM; ``interceptors`` let crash tests stop it at a chosen stage."""
    audit_log = check_settings(settings)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_worker(client, settings, audit_log, interceptors=interceptors) as worker:
        logger.info(
            "worker up: task queue %r, workspace %r, platform %s",
            settings.temporal_task_queue,
            settings.workspace_id,
            settings.platform_url,
        )
        run = asyncio.create_task(worker.run())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            logger.info("shutting down: finishing in-flight tasks")
            await worker.shutdown()
        await run


def main() -> None:
    configure_logging()
    try:
        asyncio.run(serve(Settings()))
    except StartupError as error:
        print(f"worker: {error.message}", file=sys.stderr)
        raise


if __name__ == "__main__":
    main()
