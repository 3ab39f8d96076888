"""``approvals audit verify|rotate``: the audit file's hash chain (docs/audit.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from durable_approvals.audit_log import AuditLog, verify_audit
from durable_approvals.cli.arguments import Commands
from durable_approvals.cli.output import APPROVED, DENIED, echo
from durable_approvals.settings import Settings


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


def _run(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return audit_verify(args.path, args.follows)
    return audit_rotate(args.archive)


def add_parser(commands: Commands) -> None:
    """``approvals audit verify|rotate`` and their options."""
    audit = commands.add_parser(
        "audit",
        help="verify or rotate the audit file's hash chain",
        description="The audit file's hash chain (docs/audit.md).",
    )
    audit.set_defaults(run=_run)
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
