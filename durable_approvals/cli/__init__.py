"""``approvals``: the operator's command line (console script, standard-library argparse),
one module per command group over the library (parse and print only).

``request`` asks and waits with a live line; ``decide`` hands a decision to
``durable_approvals.deciding`` and prints its verdict (docs/deciding.md); ``list``/``show``
inspect workflows through Temporal visibility and status queries; ``audit verify``/``audit
rotate`` check and rotate the audit file's hash chain (docs/audit.md; verify exits 1 when
tampered); ``mcp`` serves the MCP tools (docs/agents.md). Exit status: 0 done or approved
(a decision taken, counted or repeated), 1 denied, 2 timeout, usage or any error, which is
one redacted line ``approvals: ...`` on stderr, 3 a decision refused (``refused <id>:
<reason>``). Output to a reader that has gone away (``approvals list | head -1``) is dropped
quietly; the exit status stays the command's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from durable_approvals.cli import mcp
from durable_approvals.cli.output import FAILED, INTERRUPTED, echo, fail, one_line, silence
from durable_approvals.cli.parser import build_parser


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run its command; returns the exit status.

    A usage error or ``--help`` raises ``SystemExit`` (argparse); any other
    error is one redacted line on stderr and ``FAILED``.
    """
    if list(argv[:1]) == [mcp.COMMAND]:  # the server parses its own options
        try:
            return mcp.serve(argv[1:])
        except Exception as error:
            fail(one_line(error))
            return FAILED
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return FAILED
    try:
        code: int = args.run(args)
    except Exception as error:
        fail(one_line(error))
        return FAILED
    return code


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
            silence(stream)
    os._exit(code)


__all__ = ["build_parser", "main", "run_command"]
