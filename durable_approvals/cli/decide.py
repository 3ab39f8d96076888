"""``approvals decide``: parse a decision, hand it to ``durable_approvals.deciding``, print
its verdict (docs/deciding.md). Exit 0 taken, counted or repeated; 3 refused; 2 an error."""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
from pydantic import SecretStr

from durable_approvals.cli.arguments import Commands
from durable_approvals.cli.output import APPROVED, REFUSED, echo, json_option, keep_secret, run
from durable_approvals.cli.services import platform, temporal
from durable_approvals.deciding import Decider
from durable_approvals.deciding.verdicts import UNKNOWN_APPROVAL
from durable_approvals.models import Ballot, DecisionVerdict, VerdictOutcome, require_identifier
from durable_approvals.platform_client import PlatformError
from durable_approvals.settings import Settings, read_token_file

CREDENTIAL_HINT = (
    "this platform takes decisions only with an approver's credential: "
    "set APPROVER_TOKEN or pass --token-file"
)


def verdict_line(approve: bool, verdict: DecisionVerdict) -> str:
    """``approved a-1: taken``, ``approved a-1: counted (1 of 2 approvals)``,
    ``denied a-1: repeated``, ``refused a-1: self-approval``."""
    if not verdict.accepted:
        return f"refused {verdict.approval_id}: {verdict.reason}"
    line = f"{'approved' if approve else 'denied'} {verdict.approval_id}: {verdict.outcome.value}"
    if verdict.outcome is VerdictOutcome.COUNTED:
        line += f" ({verdict.votes} of {verdict.approvals_required} approvals)"
    return line


def approver_token(settings: Settings, token_file: str | None) -> str | None:
    """The approver's credential (docs/trust-model.md): ``--token-file``, else APPROVER_TOKEN.

    Raises:
        ValueError: the file is unreadable or empty (its content is never shown).
    """
    if token_file is not None:
        token = read_token_file(Path(token_file))
        if token is None:
            raise ValueError(f"--token-file: cannot read a token from {token_file}")
        keep_secret(token)
        return token
    secret = settings.approver_token
    return secret.get_secret_value() or None if secret is not None else None


def ballot(settings: Settings, args: argparse.Namespace) -> Ballot:
    """The decision the parsed options describe.

    Raises:
        ValueError: bad usage (an edit that is no object, or of a denial; nobody named).
    """
    edit = json_option(args.edit, "--edit")
    if edit is not None and not isinstance(edit, dict):
        raise ValueError("--edit: must be a JSON object (a merge patch of the args)")
    if edit is not None and not args.approve:
        raise ValueError("--edit: only an approval may edit the args")
    require_identifier(args.approval_id, "approval id")
    token = approver_token(settings, args.token_file)
    if token is None and not (args.by or "").strip():
        raise ValueError("--by must name who decides (or set APPROVER_TOKEN)")
    return Ballot(
        approval_id=args.approval_id,
        approved=args.approve,
        decided_by=args.by or "",
        comment=args.comment,
        edit=edit,
        approver_token=SecretStr(token) if token else None,
        by_update=args.vote,
    )


async def _verdict(settings: Settings, decision: Ballot) -> DecisionVerdict:
    async with httpx.AsyncClient(timeout=settings.platform_http_timeout) as http:
        decider = Decider(
            settings=settings,
            temporal=lambda: temporal(settings),
            platform=platform(settings, http),
        )
        try:
            return await decider.decide(decision)
        except PlatformError as error:
            if error.status_code != 401 or decision.approver_token is not None:
                raise
            # The item was read with the same bearer: a 401 on decide is the approver check.
            raise PlatformError(
                f"{error}; {CREDENTIAL_HINT}", kind=error.kind, retryable=False, status_code=401
            ) from error


def decide(args: argparse.Namespace) -> int:
    """Approve or deny a pending request and print the verdict: 0 taken, counted or
    repeated, 3 refused (``refused <id>: <reason>``); an error raises (exit 2)."""

    async def main(settings: Settings) -> DecisionVerdict:
        return await _verdict(settings, ballot(settings, args))

    verdict = run(main)
    if not verdict.accepted and verdict.reason == UNKNOWN_APPROVAL:
        raise LookupError(f"unknown approval id {args.approval_id}")
    echo(verdict_line(args.approve, verdict))
    return APPROVED if verdict.accepted else REFUSED


def add_parser(commands: Commands) -> None:
    """``approvals decide`` and its options."""
    answer = commands.add_parser(
        "decide",
        help="approve or deny a pending request",
        description="Approve or deny a pending request and print the verdict: 'approved <id>: "
        "taken', 'approved <id>: counted (1 of 2 approvals)', 'denied <id>: repeated', or "
        "'refused <id>: <reason>' in the workflow's words (self-approval, not in approver "
        "group, conflicting, late, hash-mismatch, ...). It goes through the platform where "
        "the platform answers for the workflow (the reference platform), else through the "
        "workflow's decide update (the upstream contract: Temporal must be reachable, or "
        "nothing is sent). Exit 0 taken, counted or repeated; 3 refused; 2 an error "
        "(usage, an unknown id, Temporal or the platform unreachable).",
    )
    answer.set_defaults(run=decide)
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
        help="Send it to the waiting workflow by its decide update whatever the platform "
        "serves (needs Temporal and a worker).",
    )
