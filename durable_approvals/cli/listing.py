"""``approvals list`` and ``approvals show``: approval workflows through Temporal visibility
and their status queries, with the platform's item and the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from durable_approvals.audit_log import AuditLog
from durable_approvals.cli.arguments import Commands, positive
from durable_approvals.cli.output import APPROVED, echo, run
from durable_approvals.cli.services import platform, temporal
from durable_approvals.cli.views import counts_votes, escalation_line, votes_line
from durable_approvals.models import (
    APPROVAL_WORKFLOW,
    STATUS_QUERY,
    ApprovalStatusView,
    require_identifier,
)
from durable_approvals.settings import Settings

QUERY_TIMEOUT = timedelta(seconds=10)
SHOW_SCAN_LIMIT = 200

Row = tuple[str, WorkflowExecutionStatus | None, ApprovalStatusView | None]


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
    """This deployment's approval workflows: its task queue's worker answers their queries."""
    query = (
        f"WorkflowType = '{APPROVAL_WORKFLOW}' "
        f"AND TaskQueue = '{settings.temporal_task_queue.replace(chr(39), '')}'"
    )
    return query + (" AND ExecutionStatus = 'Running'" if pending else "")


def list_(pending: bool, limit: int) -> int:
    """Print one tab-separated line per approval workflow, newest first."""

    async def main(settings: Settings) -> None:
        client = await temporal(settings)
        for workflow_id, status, view in await _views(
            client, _visibility_query(settings, pending), limit
        ):
            state = view.state.value if view else "?"
            approval = (view.approval_id if view else None) or "-"
            echo(f"{workflow_id}\t{status.name if status else '?'}\t{state}\t{approval}")

    run(main)
    return APPROVED


def show(approval_id: str) -> int:
    """Print one approval as JSON: workflow status, platform item, its audit records.

    The approval id is not a search attribute, so the workflow is found among
    the newest ``SHOW_SCAN_LIMIT`` approval workflows of this task queue.
    """

    async def main(settings: Settings) -> dict[str, Any]:
        require_identifier(approval_id, "approval id")
        client = await temporal(settings)
        found = [
            (workflow_id, status, view)
            for workflow_id, status, view in await _views(
                client, _visibility_query(settings, False), SHOW_SCAN_LIMIT
            )
            if view is not None and view.approval_id == approval_id
        ]
        async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
            item = await platform(settings, http).get_approval(approval_id)
        if not found and item is None:
            raise LookupError(f"unknown approval id {approval_id}")
        out: dict[str, Any] = {"platform": item}
        if found:
            workflow_id, status, view = found[0]
            assert view is not None
            out["workflow_id"] = workflow_id
            out["workflow_status"] = status.name if status else None
            out["status"] = view.model_dump(mode="json")
            if view.escalations or view.reminders or view.next_reminder_at:
                out["escalation"] = escalation_line(view)
            if counts_votes(view):
                out["votes"] = votes_line(view)
            out["audit"] = [
                record
                for record in AuditLog(settings.audit_log_path).records()
                if record.get("trace_id") == view.trace_id
            ]
        return out

    echo(json.dumps(run(main), indent=2, default=str))
    return APPROVED


def add_parsers(commands: Commands) -> None:
    """``approvals list`` and ``approvals show`` and their options."""
    listing = commands.add_parser(
        "list",
        help="list approval workflows",
        description="Approval workflows, newest first: workflow id, status, state, approval id.",
    )
    listing.set_defaults(run=lambda args: list_(args.pending, args.limit))
    listing.add_argument(
        "--pending",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Only workflows still running (default: all).",
    )
    listing.add_argument(
        "--limit", type=positive, default=50, help="At most this many (default: 50)."
    )

    one = commands.add_parser(
        "show",
        help="show one approval as JSON",
        description=(
            "One approval: workflow status (query), platform state, audit records for its "
            f"trace. Searched among the newest {SHOW_SCAN_LIMIT} approval workflows."
        ),
    )
    one.set_defaults(run=lambda args: show(args.approval_id))
    one.add_argument("approval_id", help="The platform's approval id.")
