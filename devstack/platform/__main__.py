"""Run the platform in the foreground:
``python -m durable_approvals.devstack.platform [--strict] ...``.

The bearer token comes only from the environment variable named by
``--token-env`` and is never printed. SIGINT and SIGTERM stop it cleanly
(exit status 0); ``--strict`` without a token exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from durable_approvals.devstack.platform.app import check_strict_config
from durable_approvals.devstack.platform.approvers import (
    ApproversFileError,
    approvers_from_environment,
)
from durable_approvals.devstack.platform.doors import (
    ALLOWED_ORIGINS_VARIABLE,
    origins_from_environment,
    parse_origins,
)
from durable_approvals.devstack.platform.server import PlatformServer

OPEN_WARNING = (
    "WARNING: the platform runs open (no workspace token): anyone who reaches it may "
    "create, decide, expire, remind and escalate approvals (docs/trust-model.md)"
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m durable_approvals.devstack.platform",
        description="The reference approvals platform.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--db", type=Path, default=Path("data/platform.db"))
    parser.add_argument(
        "--token-env",
        default="PLATFORM_AUTH_TOKEN",
        help="name of the environment variable holding the bearer token (unset: no auth)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="serve the upstream contract alone, every extension off (needs the token)",
    )
    parser.add_argument(
        "--approvers",
        type=Path,
        default=None,
        help="[ext] the approvers file (default $PLATFORM_APPROVERS_FILE): decided_by then "
        "comes from the approver's token (docs/trust-model.md)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="[ext] a browser origin (scheme://host[:port]) that may write and open the "
        "socket besides the platform's own; repeat for more (default "
        f"${ALLOWED_ORIGINS_VARIABLE}, comma-separated)",
    )
    parser.add_argument(
        "--signing-key",
        type=Path,
        default=None,
        help="[ext] Ed25519 key (PEM) that signs each decision, created if missing; its "
        "public key goes to <path>.pub for the worker's PLATFORM_VERIFY_KEY",
    )
    args = parser.parse_args(argv)
    try:
        args.approvers = approvers_from_environment(args.approvers)
    except ApproversFileError as error:
        parser.error(str(error))
    try:
        args.allowed_origin = (
            parse_origins(",".join(args.allowed_origin))
            if args.allowed_origin
            else origins_from_environment()
        )
    except ValueError as error:
        parser.error(f"--allowed-origin: {error}")
    if args.strict and (args.approvers is not None or args.signing_key is not None):
        parser.error("--strict serves the upstream contract: no --approvers, no --signing-key")
    if args.signing_key is not None and args.approvers is None:
        parser.error("--signing-key needs --approvers: it signs authenticated names")
    if args.approvers is not None and not os.environ.get(args.token_env):
        parser.error(
            f"--approvers needs a workspace token (${args.token_env}): without one, anyone "
            "who reaches the platform may create, expire, remind and escalate"
        )
    if args.strict:
        try:
            check_strict_config(os.environ.get(args.token_env))
        except ValueError as error:
            parser.error(f"{error} (token from ${args.token_env})")
    return args


async def _serve(args: argparse.Namespace, server_type: type[PlatformServer]) -> None:
    token = os.environ.get(args.token_env) or None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server_type(
        args.db,
        token=token,
        port=args.port,
        host=args.host,
        strict=args.strict,
        approvers=args.approvers,
        signing_key_path=args.signing_key,
        allowed_origins=args.allowed_origin,
    ) as server:
        if not token:
            print(OPEN_WARNING, file=sys.stderr, flush=True)
        # The URL line lets a parent process learn the port chosen for --port 0.
        print(
            f"approvals platform listening on {server.url} "
            f"(db {args.db}, auth {'on' if token else 'off'}"
            f"{', strict' if args.strict else ''})",
            flush=True,
        )
        await stop.wait()
    print("approvals platform stopped", flush=True)


def main(
    argv: list[str] | None = None, *, server_type: type[PlatformServer] = PlatformServer
) -> int:
    """Serve until SIGINT or SIGTERM.

    Args:
        argv: the arguments (``sys.argv[1:]`` if omitted).
        server_type: the server class to run (a harness's subclass).

    Returns:
        The exit status: 0 after a clean stop, 1 if the server could not start.
    """
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(args, server_type))
    except (OSError, RuntimeError, ValueError) as error:
        print(f"approvals platform: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
