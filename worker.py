"""Run the approvals worker: ``python worker.py`` from a checkout, ``approvals-worker``
after an install (settings from the environment and ``approvals.env``).

It refuses to start on settings that would fail later (exit status 2, one line),
keeps the workspace listener running, and drains on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import cast

import httpx
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from temporalio.worker import Interceptor, Worker

from durable_approvals import metrics, search_attributes, tracing
from durable_approvals.activities.audit import AuditActivities
from durable_approvals.activities.failures import RedactingInterceptor
from durable_approvals.activities.late_decisions import LateDecisionAudit
from durable_approvals.activities.listener import ListenerActivities, ListenerTuning
from durable_approvals.activities.notify import NotifyActivities
from durable_approvals.activities.platform_http import PlatformHttpActivities
from durable_approvals.activities.rbac import RbacActivities
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.audit_log import AuditLog, AuditUnwritableError
from durable_approvals.connection import connect
from durable_approvals.converter import validation_message
from durable_approvals.models import require_identifier
from durable_approvals.platform_client import PlatformClient, PlatformError
from durable_approvals.redaction import RedactingFilter, redact_text, register_secret
from durable_approvals.sandbox import passing_through
from durable_approvals.settings import Settings, SettingsError
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.listener import WorkspaceListenerWorkflow
from durable_approvals.workflows.listener_start import (
    ensure_listener,
    keep_listener,
    listener_config,
)

logger = logging.getLogger("approvals.worker")

WORKFLOWS: Sequence[type] = (ApprovalWorkflow, WorkspaceListenerWorkflow)


class StartupError(SystemExit):
    """A setting that makes the worker useless; reported in one line, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


def check_settings(settings: Settings) -> AuditLog:
    """The audit log, once WORKSPACE_ID and AUDIT_LOG_PATH are usable; else ``StartupError``."""
    if not settings.workspace_id.strip():
        raise StartupError("WORKSPACE_ID is empty: set it to the workspace this worker serves")
    try:  # requests name their workspace as an Identifier: no other id could match
        require_identifier(settings.workspace_id, "WORKSPACE_ID")
    except ValueError as error:
        raise StartupError(str(error)) from None
    if settings.temporal_api_key is not None:
        register_secret(settings.temporal_api_key.get_secret_value())
    audit_log = AuditLog(settings.audit_log_path)
    try:
        audit_log.ensure_writable()
    except AuditUnwritableError as error:
        raise StartupError(f"AUDIT_LOG_PATH unusable: {error.strerror}") from error
    return audit_log


async def check_platform_token(settings: Settings) -> None:
    """Probe the platform once: ``StartupError`` on 401/403 or an unusable token file;
    unreachable only warns."""
    try:
        token = settings.bearer_token()
    except SettingsError as error:
        raise StartupError(str(error)) from None
    register_secret(token)
    async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
        platform = PlatformClient(http, settings.platform_url, settings.workspace_id, token)
        try:
            await platform.list_approvals()
        except PlatformError as error:
            if error.status_code == 401 and token is None:
                raise StartupError(
                    f"the platform at {settings.platform_url} requires a token (401): set "
                    "WORKSPACE_TOKEN or ${CONFIGS_DIR}/.auth_token"
                ) from None
            if error.status_code in (401, 403):
                raise StartupError(
                    f"the platform at {settings.platform_url} refused WORKSPACE_TOKEN "
                    f"({error.status_code})"
                ) from None
            logger.warning("platform not usable yet (%s); starting anyway", error.message)
            return
    if token is None:
        logger.warning(
            "no WORKSPACE_TOKEN: the platform at %s answers without one; production "
            "platforms do not",
            settings.platform_url,
        )


def start_telemetry(settings: Settings) -> tuple[Runtime | None, list[ClientInterceptor]]:
    """The Prometheus endpoint (WORKER_METRICS_ADDRESS) and tracing (OTEL_EXPORTER_OTLP_*)."""
    address = settings.worker_metrics_address
    try:
        runtime = metrics.prometheus_runtime(address)
    except ValueError as error:
        raise StartupError(
            f"WORKER_METRICS_ADDRESS={address} unusable ({error}): set it to a free IP:port, "
            "or to an empty value to turn metrics off"
        ) from None
    if runtime is not None:
        logger.info("metrics on http://%s/metrics", address)
    try:
        provider = tracing.install_otlp_from_env()
    except tracing.TracingUnavailableError as error:
        raise StartupError(str(error)) from None
    interceptors = tracing.worker_interceptors(provider)
    if interceptors:
        logger.info("tracing on (OpenTelemetry)")
    return runtime, interceptors


async def check_search_attributes(client: Client) -> None:
    """Register the search attributes, or ``StartupError`` with the operator command."""
    try:
        added = await search_attributes.register(client)
    except RPCError as error:
        raise StartupError(
            f"search attributes are not registered in namespace {client.namespace!r} and "
            f"this worker may not add them ({error.message}); run once: "
            f"{search_attributes.operator_command(client.namespace)}"
        ) from None
    if added:
        logger.info("registered search attributes %s", ", ".join(added))


@contextlib.asynccontextmanager
async def build_worker(
    client: Client,
    settings: Settings,
    audit_log: AuditLog,
    *,
    task_queue: str | None = None,
    tuning: ListenerTuning | None = None,
    **worker_options: object,
) -> AsyncIterator[Worker]:
    """A worker with every workflow and activity, one HTTP pool, and the workspace
    listener kept started while the context is open.

    Args:
        client: the Temporal client (``approvals.connection.connect``).
        settings: worker settings; ``worker_options`` override the ``WORKER_*`` ones.
        audit_log: from ``check_settings``.
        task_queue: default TEMPORAL_TASK_QUEUE.
        tuning: the listener's patience; default ``ListenerTuning()``.
        **worker_options: passed to ``temporalio.worker.Worker``.
    """
    task_queue = task_queue or settings.temporal_task_queue
    worker_options.setdefault(
        "max_concurrent_activities", settings.worker_max_concurrent_activities
    )
    worker_options.setdefault(
        "max_concurrent_local_activities", settings.worker_max_concurrent_local_activities
    )
    worker_options.setdefault(
        "max_concurrent_workflow_tasks", settings.worker_max_concurrent_workflow_tasks
    )
    worker_options.setdefault("max_cached_workflows", settings.worker_max_cached_workflows)
    worker_options.setdefault("workflow_runner", passing_through(WORKFLOWS))
    worker_options.setdefault(
        "sticky_queue_schedule_to_start_timeout", timedelta(seconds=settings.worker_sticky_timeout)
    )
    register_secret(settings.bearer_token())  # also for workers embedded without serve()
    # Outermost: a failure's text lands in Temporal's history, redacted like the logs.
    given = cast("Sequence[Interceptor]", worker_options.get("interceptors") or ())
    worker_options["interceptors"] = [RedactingInterceptor(), *given]
    limits = httpx.Limits(max_connections=settings.platform_http_max_connections)
    async with httpx.AsyncClient(timeout=settings.platform_http_timeout, limits=limits) as http:
        access = PlatformAccess(settings, http)
        http_activities = PlatformHttpActivities(access)
        listener = ListenerActivities(client, access, tuning, LateDecisionAudit(client, audit_log))
        rbac = RbacActivities(settings)
        notify = NotifyActivities(settings)
        audit = AuditActivities(audit_log)
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=list(WORKFLOWS),
            activities=[
                rbac.check_permission,
                http_activities.create_approval,
                http_activities.read_decision,
                http_activities.expire_approval,
                http_activities.record_decision,
                http_activities.remind_approval,
                http_activities.escalate_approval,
                listener.listen_workspace,
                audit.write_audit,
                notify.notify,
            ],
            **worker_options,  # type: ignore[arg-type]
        )
        config = listener_config(settings)
        await ensure_listener(client, config, task_queue, reconfigure=True)
        keeper = asyncio.create_task(keep_listener(client, config, task_queue))
        try:
            yield worker
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper


def freeze_startup_heap() -> int:
    """Collect, then keep every object alive now (modules, settings, the worker) out of
    the cycle collector's scans for good; returns how many. Called once, before the
    worker polls: a full collection then scans only what workflows and the listener
    allocate (docs/performance.md, issue 21's third round)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def serve(settings: Settings, *, interceptors: Sequence[Interceptor] = ()) -> None:
    """Check, connect and run until SIGINT/SIGTERM; ``interceptors`` go to the worker."""
    audit_log = check_settings(settings)
    await check_platform_token(settings)
    runtime, client_interceptors = start_telemetry(settings)
    client = await connect(settings, runtime=runtime, interceptors=client_interceptors)
    await check_search_attributes(client)
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
        logger.debug("kept %d startup objects out of the collector", freeze_startup_heap())
        run = asyncio.create_task(worker.run())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            logger.info("shutting down: finishing in-flight tasks")
            await worker.shutdown()
        await run


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--help`` names the settings; the worker itself takes no options."""
    parser = argparse.ArgumentParser(
        prog="approvals-worker",
        description=(
            "Run the durable-approvals worker: the approval workflows, their activities and "
            "the workspace listener. Settings come from the environment, then approvals.env "
            "(APPROVALS_ENV_FILE names another): TEMPORAL_ADDRESS, PLATFORM_URL, WORKSPACE_ID, "
            "AUDIT_LOG_PATH, APPROVAL_TIMEOUT and the rest in docs/operations.md. "
            "SIGINT or SIGTERM drains it."
        ),
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Start the worker; exit status 2 with one line on unusable settings."""
    parse_arguments(argv)
    configure_logging()
    try:
        try:
            settings = Settings()
        except ValidationError as error:
            raise StartupError(f"invalid settings: {validation_message(error)}") from None
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"worker: {redact_text(error.message)}", file=sys.stderr)
        raise


if __name__ == "__main__":
    main()
