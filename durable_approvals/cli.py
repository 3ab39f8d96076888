"""``approvals``: the operator's command line (console script, standard-library argparse).

``request`` asks and waits with a live line; ``decide`` answers through the
platform's HTTP route, or through the workflow's ``decide_update`` update where it
talks to Temporal (votes, the upstream contract with args, edits) and prints the
verdict (docs/deciding.md); ``list``/``show`` inspect workflows through Temporal
visibility and status queries; ``audit verify``/``audit rotate`` check and rotate
the audit file's hash chain (docs/audit.md; verify exits 1 when tampered).
Exit status: 0 done or approved (a decision taken, counted or repeated), 1 denied,
2 timeout, usage or any error, which is one line ``approvals: ...`` on stderr, 3 a
decision refused (``refused <id>: <reason>``). Output to a reader that has gone away
(``approvals list | head -1``) is dropped quietly; the exit status stays the command's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import httpx
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from durable_approvals.audit_log import AuditLog, verify_audit
from durable_approvals.binding import EDITS_NEED_ONE_DECIDER
from durable_approvals.client import (
    LATE,
    ApprovalClosedError,
    ApprovalHandle,
    DecisionTimeoutError,
    approval_status,
    build_request,
    offer_decision,
    start_approval,
    waiting_workflow,
)
from durable_approvals.client import decide as decide_by_update
from durable_approvals.connection import connect
from durable_approvals.converter import validation_message
from durable_approvals.edits import bound_decision, find_waiting_workflow
from durable_approvals.models import (
    APPROVAL_WORKFLOW,
    STATUS_QUERY,
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    ApprovalStatusView,
    DecisionVerdict,
    VerdictOutcome,
    require_identifier,
)
from durable_approvals.platform_client import PlatformClient, PlatformError
from durable_approvals.settings import Settings, read_token_file

APPROVED, DENIED, FAILED, REFUSED = 0, 1, 2, 3
INTERRUPTED = 130
QUERY_TIMEOUT = timedelta(seconds=10)
SHOW_SCAN_LIMIT = 200
VISIBILITY_ATTEMPTS = 10

T = TypeVar("T")
Row = tuple[str, WorkflowExecutionStatus | None, ApprovalStatusView | None]


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at the null device: later writes go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def echo(text: str, *, err: bool = False, end: str = "\n") -> None:
    """Write ``text`` to stdout (stderr with ``err``) now; a closed pipe silences the stream."""
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text + end)
        stream.flush()
    except BrokenPipeError:
        _silence(stream)


def one_line(error: Exception) -> str:
    """What went wrong, in one line; for bad input, which field and why (not the value)."""
    if isinstance(error, ValidationError):
        return f"invalid input: {validation_message(error)}"
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def run(main: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run an async command with the environment's settings."""
    return asyncio.run(main(Settings()))


async def _client(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except RuntimeError as error:
        raise RuntimeError(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(TEMPORAL_ADDRESS; namespace {settings.temporal_namespace}): {error}"
        ) from error


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
    if view.escalated_to is not None:
        left += f", escalated to {view.escalated_to}"
    votes = f", {_votes_line(view)}" if _counts_votes(view) else ""
    return f"waiting for approval {view.approval_id}: elapsed {elapsed:.0f}s{left}{votes}"


def _counts_votes(view: ApprovalStatusView) -> bool:
    return view.approvals_required > 1 or view.approver_group is not None


def _votes_line(view: ApprovalStatusView) -> str:
    """``1 of 2 approvals (alice)``: the N-of-M progress of a request that counts votes."""
    approvers = [vote.decided_by for vote in view.votes if vote.approved]
    names = f" ({', '.join(approvers)})" if approvers else ""
    return f"{len(approvers)} of {view.approvals_required} approvals{names}"


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
                echo(f"\r\033[K{line}", end="")
            elif time.monotonic() - last_printed >= 10:
                echo(line)
                last_printed = time.monotonic()
        await asyncio.wait({result}, timeout=0.5)
    if tty:
        echo("")
    return await result


def json_option(text: str | None, option: str) -> Any:
    """The JSON an option carries (``None`` when not given); NaN and Infinity are not JSON."""
    if text is None:
        return None

    def refuse(constant: str) -> None:
        raise ValueError(f"{option}: {constant} is not JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise ValueError(f"{option}: not JSON ({error.msg} at {error.pos})") from None


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
        client = await _client(settings)
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


async def _bound_decision_by_update(
    settings: Settings,
    approval_id: str,
    approve: bool,
    by: str,
    comment: str | None,
    edit: dict[str, Any] | None,
) -> DecisionVerdict | None:
    """Decide through the waiting workflow's ``decide_update`` update, naming the hash its
    status query reports (docs/policies/edits.md): the way when the platform cannot carry
    the hash (the upstream contract). Returns the verdict, or ``None``: no such waiting
    workflow, or it has no args and there is no edit (the platform route then does as
    before)."""
    client = await _client(settings)
    handle = None
    for attempt in range(VISIBILITY_ATTEMPTS):  # visibility lags the workflow a little
        handle = await find_waiting_workflow(
            client, settings.temporal_task_queue, settings.workspace_id, approval_id
        )
        if handle is not None or attempt == VISIBILITY_ATTEMPTS - 1:
            break
        await asyncio.sleep(0.5)
    if handle is None:
        return None
    view = await handle.query(
        STATUS_QUERY, result_type=ApprovalStatusView, rpc_timeout=QUERY_TIMEOUT
    )
    if view.args is None and edit is None:
        return None
    decision = bound_decision(
        workspace_id=settings.workspace_id,
        action=view.action or "",
        args=view.args,
        approval_id=approval_id,
        approved=approve,
        decided_by=by,
        comment=comment,
        edit=edit,
    )
    return await offer_decision(handle, decision)


def verdict_line(approve: bool, verdict: DecisionVerdict) -> str:
    """``approved a-1: taken``, ``approved a-1: counted (1 of 2 approvals)``,
    ``denied a-1: repeated``, ``refused a-1: self-approval``."""
    if not verdict.accepted:
        return f"refused {verdict.approval_id}: {verdict.reason}"
    line = f"{'approved' if approve else 'denied'} {verdict.approval_id}: {verdict.outcome.value}"
    if verdict.outcome is VerdictOutcome.COUNTED:
        line += f" ({verdict.votes} of {verdict.approvals_required} approvals)"
    return line


def _approver_token(settings: Settings, token_file: str | None) -> str | None:
    """The approver's credential (docs/trust-model.md): ``--token-file``, else APPROVER_TOKEN.

    Raises:
        ValueError: the file is unreadable or empty (its content is never shown).
    """
    if token_file is not None:
        token = read_token_file(Path(token_file))
        if token is None:
            raise ValueError(f"--token-file: cannot read a token from {token_file}")
        return token
    secret = settings.approver_token
    return secret.get_secret_value() or None if secret is not None else None


def decide(
    approval_id: str,
    approve: bool,
    by: str | None,
    comment: str | None,
    edit_text: str | None = None,
    vote: bool = False,
    token_file: str | None = None,
) -> int:
    """Approve or deny a pending request; 0 taken (counted, repeated), 3 refused.

    Through the platform's route (its answer is the verdict; unknown ids raise) or the
    workflow's ``decide_update`` update, whose verdict is printed (docs/deciding.md). For
    a request with args the decision names the hash it approves (``--edit``: a merge
    patch of the args, approved instead): through the platform where its item carries
    the [ext] ``action_hash``, else through the update. A request that counts votes
    (N-of-M) on a platform that keeps one decision per approval gets a vote by the
    update instead; ``vote`` sends it that way. A vote names the request's hash too
    (args from the status query); it carries no edits (``edits-need-one-decider``).

    With an approver's credential (APPROVER_TOKEN or ``token_file``) a reference platform
    with an approvers file takes the decider's name from it: ``by`` may be left out, and
    naming someone else is refused (403).
    """
    edit = json_option(edit_text, "--edit")
    if edit is not None and not isinstance(edit, dict):
        raise ValueError("--edit: must be a JSON object (a merge patch of the args)")
    if edit is not None and not approve:
        raise ValueError("--edit: only an approval may edit the args")

    async def main(settings: Settings) -> str | DecisionVerdict:
        require_identifier(approval_id, "approval id")
        token = _approver_token(settings, token_file)
        if token is None and not (by or "").strip():
            raise ValueError("--by must name who decides (or set APPROVER_TOKEN)")
        decider = by or ""

        def by_signal() -> None:
            if not decider.strip():
                raise ValueError("--by: this decision goes by signal, which carries no proof")

        async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
            platform = _platform(settings, http)
            item = None if vote else await platform.get_approval(approval_id)
            item_read.append(item is not None)
            if edit is None and (
                vote or (item is not None and await _votes_by_update(settings, item))
            ):
                by_signal()
                client = await _client(settings)
                return await decide_by_update(  # with args: it names the request's hash
                    client,
                    settings,
                    approval_id,
                    approved=approve,
                    decided_by=decider,
                    comment=comment,
                    bind_to_request=True,
                )
            if item is None:
                raise LookupError(f"unknown approval id {approval_id}")
            if edit is not None and "approvals_required" in item:  # [ext] a vote item
                return DecisionVerdict(
                    approval_id=approval_id,
                    accepted=False,
                    outcome=VerdictOutcome.REFUSED,
                    reason=EDITS_NEED_ONE_DECIDER,  # the platform's 409 reason, said first
                )
            if "action_hash" in item:  # [ext] the platform carries the hash and edits
                decision = bound_decision(
                    workspace_id=settings.workspace_id,
                    action=str(item.get("action", "")),
                    args=item.get("args"),
                    approval_id=approval_id,
                    approved=approve,
                    decided_by=decider,
                    comment=comment,
                    edit=edit,
                )
                await platform.decide(
                    approval_id,
                    approved=approve,
                    decided_by=decider,
                    comment=comment,
                    action_hash=decision.action_hash,
                    edited_args=decision.edited_args,
                    approver_token=token,
                )
                return " (a vote)" if "approvals_required" in item else ""
            if edit is not None or "requester" not in item:  # the upstream contract's item
                by_signal()
                try:
                    verdict = await _bound_decision_by_update(
                        settings, approval_id, approve, decider, comment, edit
                    )
                except (ApprovalClosedError, DecisionTimeoutError):
                    raise  # Temporal answered: no second decision on the platform
                except Exception as error:
                    if edit is not None:
                        raise
                    verdict = None  # no Temporal at hand: the contract's route, as before
                    echo(f"approvals: deciding on the platform only: {one_line(error)}", err=True)
                if verdict is not None:
                    return verdict
                if edit is not None:
                    raise LookupError(f"no waiting workflow with args for {approval_id}")
            await platform.decide(
                approval_id,
                approved=approve,
                decided_by=decider,
                comment=comment,
                approver_token=token,
            )
            return " (a vote)" if "approvals_required" in item else ""

    item_read: list[bool] = []

    async def main_with_hint(settings: Settings) -> str | DecisionVerdict:
        try:
            return await main(settings)
        except PlatformError as error:
            # The item was read with the same bearer: a 401 on decide is the approver check.
            if (
                error.status_code != 401
                or not any(item_read)
                or _approver_token(settings, token_file) is not None
            ):
                raise
            raise PlatformError(
                f"{error}; this platform takes decisions only with an approver's credential: "
                "set APPROVER_TOKEN or pass --token-file",
                kind=error.kind,
                retryable=False,
                status_code=401,
            ) from error

    try:
        how = run(main_with_hint)
    except ApprovalClosedError as closed:  # its workflow has ended: a refusal, as late
        echo(f"refused {approval_id}: {LATE} ({one_line(closed)})")
        return REFUSED
    if isinstance(how, DecisionVerdict):
        echo(verdict_line(approve, how))
        return APPROVED if how.accepted else REFUSED
    echo(f"{'approved' if approve else 'denied'} {approval_id}{how}")
    return APPROVED


async def _votes_by_update(settings: Settings, item: dict[str, Any]) -> bool:
    """Whether an item that is no [ext] vote item belongs to a request counting votes.

    A reference platform's item carries its [ext] fields (``expires_at``): it is a vote
    item or a plain request. A strict platform's item says nothing: the workflow's status
    query does (the item may be decided already, by a first vote on the platform, while
    the workflow waits for more); without Temporal the platform decides, as before.
    """
    if "approvals_required" in item or "expires_at" in item:
        return False
    try:
        client = await _client(settings)
        workflow_id = await waiting_workflow(client, settings, str(item.get("id")))
        if workflow_id is None:
            return False
        return _counts_votes(await approval_status(client, workflow_id))
    except Exception as error:  # unknown: the platform decides, as before
        echo(
            f"approvals: cannot ask the workflow, deciding on the platform: {one_line(error)}",
            err=True,
        )
        return False


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


def _escalation_line(view: ApprovalStatusView) -> str:
    """The escalation state in words, for ``show``."""
    parts = [f"escalated to {view.escalated_to} ({view.escalations}x)"] if view.escalated_to else []
    parts.append(f"{view.reminders} reminder(s)")
    if view.next_reminder_at is not None:
        parts.append(f"next reminder at {view.next_reminder_at.isoformat(timespec='seconds')}")
    return ", ".join(parts)


def list_(pending: bool, limit: int) -> int:
    """Print one tab-separated line per approval workflow, newest first."""

    async def main(settings: Settings) -> None:
        client = await _client(settings)
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
            if view.escalations or view.reminders or view.next_reminder_at:
                out["escalation"] = _escalation_line(view)
            if _counts_votes(view):
                out["votes"] = _votes_line(view)
            out["audit"] = [
                record
                for record in AuditLog(settings.audit_log_path).records()
                if record.get("trace_id") == view.trace_id
            ]
        return out

    echo(json.dumps(run(main), indent=2, default=str))
    return APPROVED


def audit_verify(path: str | None, follows: str | None) -> int:
    """Check the audit file's hash chain and that no approval has two outcome records:
    one line, exit 0 intact, 1 tampered or inconsistent.

    ``path`` defaults to ``AUDIT_LOG_PATH``; an unreadable file raises (exit 2).
    """
    target = Path(path) if path else Settings().audit_log_path
    try:
        report = verify_audit(target, follows=Path(follows) if follows else None)
    except OSError as error:
        where = error.filename or target
        raise OSError(f"cannot read audit file {where}: {error.strerror or error}") from None
    echo(report.summary())
    return APPROVED if report.ok else DENIED


def audit_rotate(archive: str | None) -> int:
    """Move ``AUDIT_LOG_PATH`` to ``archive`` and start a new file chained to it."""
    settings = Settings()
    path = settings.audit_log_path
    if not path.is_file():
        raise FileNotFoundError(f"no audit file at {path} (AUDIT_LOG_PATH)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(archive) if archive else path.with_name(f"{path.name}.{stamp}")
    rotation = AuditLog(path).rotate(target, workspace_id=settings.workspace_id)
    echo(
        f"rotated {path} to {rotation.archive}: its last hash {rotation.last_hash}; "
        f"verify with: approvals audit verify --follows {rotation.archive} {path}"
    )
    return APPROVED


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line ``approvals: ...``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(FAILED, f"approvals: {message} (see '{self.prog} --help')\n")


def _positive(text: str) -> int:
    """``text`` as an integer of at least 1, else argparse's usage error."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text[:20]!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``approvals request|decide|list|show|audit``."""
    parser = _Parser(prog="approvals", description="Durable human approval for AI agents.")
    commands = parser.add_subparsers(dest="command", title="commands")

    ask = commands.add_parser(
        "request",
        help="ask for approval and wait",
        description="Ask for approval and wait: exit 0 approved, 1 denied, 2 timeout or error.",
    )
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
        type=_positive,
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

    answer = commands.add_parser(
        "decide",
        help="approve or deny a pending request",
        description="Approve or deny a pending request: through the platform, or the "
        "workflow's decide update (votes, args on the upstream contract, edits), printing its "
        "verdict. Exit 0 taken, counted or repeated; 3 refused ('refused <id>: <reason>'); "
        "2 an error.",
    )
    answer.add_argument("approval_id", help="The platform's approval id.")
    decision = answer.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", dest="approve", action="store_true", help="Approve.")
    decision.add_argument("--deny", dest="approve", action="store_false", help="Deny.")
    answer.add_argument(
        "--by",
        help="Who decides (required without an approver token; with one, the platform's "
        "approvers file names you and --by must match or be left out).",
    )
    answer.add_argument(
        "--token-file",
        metavar="PATH",
        help="A file holding your approver token (default: $APPROVER_TOKEN); never pass a "
        "token on the command line.",
    )
    answer.add_argument("--comment", help="Shown to the agent.")
    answer.add_argument(
        "--edit",
        help="Approve with edits: a JSON merge patch of the request's args, e.g. '{\"dry_run\": "
        "true}'.",
    )
    answer.add_argument(
        "--vote",
        action="store_true",
        help="Send it to the waiting workflow by its decide update (N-of-M votes; found "
        "automatically where the platform keeps one decision per approval).",
    )

    listing = commands.add_parser(
        "list",
        help="list approval workflows",
        description="Approval workflows, newest first: workflow id, status, state, approval id.",
    )
    listing.add_argument(
        "--pending",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Only workflows still running (default: all).",
    )
    listing.add_argument(
        "--limit", type=_positive, default=50, help="At most this many (default: 50)."
    )

    one = commands.add_parser(
        "show",
        help="show one approval as JSON",
        description=(
            "One approval: workflow status (query), platform state, audit records for its "
            f"trace. Searched among the newest {SHOW_SCAN_LIMIT} approval workflows."
        ),
    )
    one.add_argument("approval_id", help="The platform's approval id.")

    audit = commands.add_parser(
        "audit",
        help="verify or rotate the audit file's hash chain",
        description="The audit file's hash chain (docs/audit.md).",
    )
    audit_commands = audit.add_subparsers(dest="audit_command", title="commands", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain",
        description="Check the hash chain: one line, OK with the record count and the last "
        "hash, or the first broken line and how. Exit 0 intact, 1 tampered, 2 error.",
    )
    verify.add_argument("path", nargs="?", help="The audit file (default: AUDIT_LOG_PATH).")
    verify.add_argument(
        "--follows",
        metavar="OLD",
        help="The file PATH was rotated from: verified too, and PATH must start from its "
        "last hash.",
    )
    rotate = audit_commands.add_parser(
        "rotate",
        help="move the audit file aside and start a new one chained to it",
        description="Move AUDIT_LOG_PATH to ARCHIVE (same file system) under the writers' "
        "lock and start a new file whose first record names the archive's last hash.",
    )
    rotate.add_argument(
        "archive", nargs="?", help="Where the old file goes (default: PATH.<UTC time>)."
    )
    return parser


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run its command; returns the exit status.

    A usage error or ``--help`` raises ``SystemExit`` (argparse); any other
    error is one line on stderr and ``FAILED``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return FAILED
    try:
        if args.command == "request":
            policy = {
                "remind_every": args.remind_every,
                "escalate_after": args.escalate_after,
                "escalate_to": args.escalate_to,
                "on_timeout": args.on_timeout,
                "escalation_timeout": args.escalation_timeout,
                "approvals_required": args.approvals_required,
                "approver_group": args.approver_group,
            }
            return request(
                args.action,
                args.reason,
                args.key,
                args.timeout,
                args.args_json,
                args.args_schema_json,
                policy,
            )
        if args.command == "decide":
            return decide(
                args.approval_id,
                args.approve,
                args.by,
                args.comment,
                args.edit,
                args.vote,
                args.token_file,
            )
        if args.command == "list":
            return list_(args.pending, args.limit)
        if args.command == "audit":
            if args.audit_command == "verify":
                return audit_verify(args.path, args.follows)
            return audit_rotate(args.archive)
        return show(args.approval_id)
    except Exception as error:
        echo(f"approvals: {one_line(error)}", err=True)
        return FAILED


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: run the command, then ``os._exit`` with its status.

    temporalio's Rust runtime keeps threads that can abort an interpreter that
    finalizes (exit status -6); every command has closed its resources when it
    returns, so the streams are flushed and the process leaves without finalizing.
    """
    try:
        code = run_command(sys.argv[1:] if argv is None else argv)
    except SystemExit as done:  # --help, or a usage error already on stderr
        code = done.code if isinstance(done.code, int) else FAILED
    except KeyboardInterrupt:
        echo("approvals: interrupted", err=True)
        code = INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            _silence(stream)
    os._exit(code)


if __name__ == "__main__":
    main()
