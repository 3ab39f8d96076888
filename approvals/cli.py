"""``approvals``: the operator's command line (console script, Typer).

``request`` asks and waits with a live line; ``decide``
answers through the platform's HTTP route (the platform stays the single source
of decisions, and its WebSocket event reaches the worker's listener);
``list``/``show`` inspect workflows through Temporal visibility and queries.
Every failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn, TypeVar

import click
import httpx
import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from approvals.audit_log import AuditLog
from approvals.client import ApprovalHandle, build_request, start_approval
from approvals.connection import connect
from approvals.converter import validation_message
from approvals.models import (
    APPROVAL_WORKFLOW,
    STATUS_QUERY,
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    ApprovalStatusView,
    require_identifier,
)
from approvals.platform_client import PlatformClient
from approvals.settings import Settings

APPROVED, DENIED, FAILED = 0, 1, 2
QUERY_TIMEOUT = timedelta(seconds=10)
SHOW_SCAN_LIMIT = 200

app = typer.Typer(help="Durable human approval for AI agents.", no_args_is_help=True)
T = TypeVar("T")
Row = tuple[str, WorkflowExecutionStatus | None, ApprovalStatusView | None]


def fail(message: str, code: int = FAILED) -> NoReturn:
    typer.echo(f"approvals: {message}", err=True)
    raise typer.Exit(code)


def one_line(error: Exception) -> str:
    """What went wrong, in one line; for bad input, which field and why (not the value)."""
    if isinstance(error, ValidationError):
        return f"invalid input: {validation_message(error)}"
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def run(main: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run an async command; any error becomes one line and exit status 2."""
    try:
        settings = Settings()
        return asyncio.run(main(settings))
    except typer.Exit:
        raise
    except Exception as error:
        fail(one_line(error))


async def _client(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except RuntimeError as error:
        raise RuntimeError(f"cannot reach Temporal at {settings.temporal_address}") from error


def _platform(settings: Settings, http: httpx.AsyncClient) -> PlatformClient:
    return PlatformClient(
        http=http,
        base_url=settings.platform_url,
        workspace_id=settings.workspace_id,
        token=settings.bearer_token(),
    )


def _waiting_line(view: ApprovalStatusView, started: float) -> str:
    elapsed = time.monotonic() - started
    left = ""
    if view.deadline is not None:
        remaining = max((view.deadline - datetime.now(UTC)).total_seconds(), 0.0)
        left = f", time left {remaining:.0f}s"
    return f"waiting for approval {view.approval_id}: elapsed {elapsed:.0f}s{left}"


async def _watch(handle: ApprovalHandle) -> ApprovalResult:
    """Wait for the result, showing a line updated in place (a new line each 10 s off a tty)."""
    started = time.monotonic()
    result = asyncio.create_task(handle.result())
    tty = sys.stdout.isatty()
    last_printed = -1e9
    while not result.done():
        try:
            view = await handle.query(
                STATUS_QUERY, result_type=ApprovalStatusView, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception:  # not picked up by a worker yet: keep waiting for the result
            view = None
        if view is not None and view.state is ApprovalState.PENDING:
            line = _waiting_line(view, started)
            if tty:
                sys.stdout.write(f"\r\033[K{line}")
                sys.stdout.flush()
            elif time.monotonic() - last_printed >= 10:
                print(line, flush=True)
                last_printed = time.monotonic()
        await asyncio.wait({result}, timeout=0.5)
    if tty:
        sys.stdout.write("\n")
    return await result


@app.command()
def request(
    action: str,
    reason: Annotated[str, typer.Option(help="Why the action is needed.")] = "",
    key: Annotated[str | None, typer.Option(help="Idempotency key: same key, same answer.")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait (APPROVAL_TIMEOUT).")
    ] = None,
) -> None:
    """Ask for approval and wait: exit 0 approved, 1 denied, 2 timeout or error."""

    async def main(settings: Settings) -> ApprovalResult:
        build_request(settings, action, reason, timeout=timeout)  # bad input: before connecting
        client = await _client(settings)
        handle = await start_approval(client, settings, action, reason, key=key, timeout=timeout)
        typer.echo(f"workflow {handle.id}")
        return await _watch(handle)

    result = run(main)
    if result.status is ApprovalStatus.GRANTED:
        typer.echo(f"approved by {result.decided_by} ({result.approval_id})")
        raise typer.Exit(APPROVED)
    if result.status is ApprovalStatus.DENIED:
        typer.echo(f"denied by {result.decided_by} ({result.approval_id})")
        raise typer.Exit(DENIED)
    fail(f"{result.status.value}: {result.error or result.message}")


@app.command()
def decide(
    approval_id: str,
    approve: Annotated[bool, typer.Option("--approve/--deny", help="The decision.")],
    by: Annotated[str, typer.Option("--by", help="Who decides.")],
    comment: Annotated[str | None, typer.Option(help="Shown to the agent.")] = None,
) -> None:
    """Approve or deny a pending request through the platform."""

    async def main(settings: Settings) -> None:
        require_identifier(approval_id, "approval id")
        if not by.strip():
            raise ValueError("--by must name who decides")
        async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
            platform = _platform(settings, http)
            if await platform.get_approval(approval_id) is None:
                raise LookupError(f"unknown approval id {approval_id}")
            await platform.decide(approval_id, approved=approve, decided_by=by, comment=comment)

    run(main)
    typer.echo(f"{'approved' if approve else 'denied'} {approval_id}")


async def _view(client: Client, execution: WorkflowExecution) -> ApprovalStatusView | None:
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    try:
        view: ApprovalStatusView = await handle.query(
            STATUS_QUERY, result_type=ApprovalStatusView, rpc_timeout=QUERY_TIMEOUT
        )
    except Exception:  # no worker to answer, or not started yet
        return None
    return view


async def _views(client: Client, query: str, limit: int) -> list[Row]:
    """Executions matching ``query``, newest first, each with its status query (concurrently)."""
    executions = [execution async for execution in client.list_workflows(query, limit=limit)]
    views = await asyncio.gather(*(_view(client, execution) for execution in executions))
    return [(e.id, e.status, view) for e, view in zip(executions, views, strict=True)]


def _visibility_query(settings: Settings, pending: bool) -> str:
    """This deployment's approval workflows: its task queue is served by its worker,
    so their status queries are answered (other queues' may have no worker)."""
    query = (
        f"WorkflowType = '{APPROVAL_WORKFLOW}' "
        f"AND TaskQueue = '{settings.temporal_task_queue.replace(chr(39), '')}'"
    )
    return query + (" AND ExecutionStatus = 'Running'" if pending else "")


@app.command("list")
def list_(
    pending: Annotated[bool, typer.Option(help="Only workflows still running.")] = False,
    limit: int = 50,
) -> None:
    """Approval workflows, newest first: workflow id, status, state, approval id."""

    async def main(settings: Settings) -> None:
        client = await _client(settings)
        for workflow_id, status, view in await _views(
            client, _visibility_query(settings, pending), limit
        ):
            state = view.state.value if view else "?"
            approval = (view.approval_id if view else None) or "-"
            typer.echo(f"{workflow_id}\t{status.name if status else '?'}\t{state}\t{approval}")

    run(main)


@app.command()
def show(approval_id: str) -> None:
    """One approval: workflow status (query), platform state, audit records for its trace.

    The approval id is only known after the workflow created the request, so it
    is not in the workflow id and is not a search attribute (adding one would be
    a new workflow command and a search-attribute registration on every
    cluster). We scan the newest ApprovalWorkflow executions of this task queue
    (SHOW_SCAN_LIMIT) through visibility and query each for its status,
    concurrently: no schema change on the cluster, running and closed workflows
    alike, answered by this deployment's worker.
    """

    async def main(settings: Settings) -> dict[str, Any]:
        require_identifier(approval_id, "approval id")
        client = await _client(settings)
        found = [
            (workflow_id, status, view)
            for workflow_id, status, view in await _views(
                client, _visibility_query(settings, False), SHOW_SCAN_LIMIT
            )
            if view is not None and view.approval_id == approval_id
        ]
        async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
            item = await _platform(settings, http).get_approval(approval_id)
        if not found and item is None:
            raise LookupError(f"unknown approval id {approval_id}")
        out: dict[str, Any] = {"platform": item}
        if found:
            workflow_id, status, view = found[0]
            assert view is not None
            out["workflow_id"] = workflow_id
            out["workflow_status"] = status.name if status else None
            out["status"] = view.model_dump(mode="json")
            out["audit"] = [
                record
                for record in AuditLog(settings.audit_log_path).records()
                if record.get("trace_id") == view.trace_id
            ]
        return out

    typer.echo(json.dumps(run(main), indent=2, default=str))


def main() -> None:
    """Console-script entry point: run the command, then leave without finalization.

    temporalio's Rust runtime keeps threads that can call into Python while the
    interpreter finalizes and abort it (``PyGILState_Release``, exit status -6)
    after the command already finished. Every command has closed its resources
    by the time it returns (``asyncio.run`` has ended), so we flush and
    ``os._exit`` with the command's status instead of finalizing.
    """
    try:
        result = app(standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Abort:
        typer.echo("Aborted!", err=True)
        code = 130
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
