"""``approvals request``: ask for approval and wait with a live line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from typing import Any

from durable_approvals.cli.arguments import Commands, positive
from durable_approvals.cli.output import APPROVED, DENIED, echo, json_option, run
from durable_approvals.cli.services import temporal
from durable_approvals.cli.views import waiting_line
from durable_approvals.client import ApprovalHandle, build_request, start_approval
from durable_approvals.models import (
    STATUS_QUERY,
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    ApprovalStatusView,
)
from durable_approvals.settings import Settings

QUERY_TIMEOUT = timedelta(seconds=10)
POLICY_FIELDS = (
    "remind_every",
    "escalate_after",
    "escalate_to",
    "on_timeout",
    "escalation_timeout",
    "approvals_required",
    "approver_group",
)


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
            line = waiting_line(view, started)
            if tty:
                echo(f"\r\033[K{line}", end="")
            elif time.monotonic() - last_printed >= 10:
                echo(line)
                last_printed = time.monotonic()
        await asyncio.wait({result}, timeout=0.5)
    if tty:
        echo("")
    return await result


def request(
    action: str,
    reason: str,
    key: str | None,
    timeout: float | None,
    args_text: str | None = None,
    schema_text: str | None = None,
    policy: dict[str, Any] | None = None,
) -> int:
    """Ask for approval and wait: 0 approved, 1 denied; a timeout or error raises.

    ``policy``: escalation and reminder fields of ``ApprovalRequest`` (unset ones left out).
    """
    extra: dict[str, Any] = {
        name: value for name, value in (policy or {}).items() if value is not None
    }
    if args_text is not None:
        extra["args"] = json_option(args_text, "--args")
    if schema_text is not None:
        extra["args_schema"] = json_option(schema_text, "--args-schema")

    async def main(settings: Settings) -> ApprovalResult:
        # bad input: before connecting
        build_request(settings, action, reason, timeout=timeout, **extra)
        client = await temporal(settings)
        handle = await start_approval(
            client, settings, action, reason, key=key, timeout=timeout, **extra
        )
        echo(f"workflow {handle.id}")
        return await _watch(handle)

    result = run(main)
    if result.escalated_to is not None:
        echo(f"escalated to {result.escalated_to}")
    if result.status is ApprovalStatus.GRANTED:
        by = ", ".join(result.approvers) if result.approvers else result.decided_by
        echo(f"approved by {by} ({result.approval_id})")
        if result.action_hash is not None:  # what was approved: edited or as asked
            echo(f"args {json.dumps(result.args, sort_keys=True, ensure_ascii=False)}")
            echo(f"action_hash {result.action_hash}{' (edited)' if result.edited else ''}")
        return APPROVED
    if result.status is ApprovalStatus.DENIED:
        echo(f"denied by {result.decided_by} ({result.approval_id})")
        return DENIED
    raise RuntimeError(f"{result.status.value}: {result.error or result.message}")


def _run(args: argparse.Namespace) -> int:
    policy = {name: getattr(args, name) for name in POLICY_FIELDS}
    return request(
        args.action,
        args.reason,
        args.key,
        args.timeout,
        args.args_json,
        args.args_schema_json,
        policy,
    )


def add_parser(commands: Commands) -> None:
    """``approvals request`` and its options."""
    ask = commands.add_parser(
        "request",
        help="ask for approval and wait",
        description="Ask for approval and wait: exit 0 approved, 1 denied, 2 timeout or error.",
    )
    ask.set_defaults(run=_run)
    ask.add_argument("action", help="The action to approve.")
    ask.add_argument("--reason", default="", help="Why the action is needed.")
    ask.add_argument("--key", help="Idempotency key: same key, same answer.")
    ask.add_argument("--timeout", type=float, help="Seconds to wait (default: APPROVAL_TIMEOUT).")
    ask.add_argument(
        "--args",
        dest="args_json",
        help='Structured args as a JSON object, e.g. \'{"db": "staging"}\': the approval binds '
        "to them (docs/policies/edits.md).",
    )
    ask.add_argument(
        "--args-schema",
        dest="args_schema_json",
        help="A JSON Schema (supported subset) that approvers' edits must satisfy.",
    )
    ask.add_argument(
        "--approvals-required",
        type=positive,
        help="Approvals needed from distinct deciders, never the requester (default: 1).",
    )
    ask.add_argument(
        "--approver-group",
        help="Only members of this group of the workspace config's approver_groups count.",
    )
    policy = ask.add_argument_group(
        "escalation and reminders", "See docs/policies/escalation.md; unset: none."
    )
    policy.add_argument(
        "--remind-every", type=float, metavar="SECONDS", help="A reminder each period."
    )
    policy.add_argument(
        "--escalate-after",
        type=float,
        metavar="SECONDS",
        help="Escalate to --escalate-to after this long.",
    )
    policy.add_argument(
        "--escalate-to", metavar="ID", help="The approver group or parent workspace."
    )
    policy.add_argument(
        "--on-timeout",
        choices=["deny", "escalate"],
        help="At the deadline: time out (deny, the default) or escalate once more.",
    )
    policy.add_argument(
        "--escalation-timeout",
        type=float,
        metavar="SECONDS",
        help="With --on-timeout escalate: the second deadline (default: --timeout's).",
    )
