"""The parser's parts the command modules share: one-line usage errors, argument types."""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

from durable_approvals.cli.output import FAILED
from durable_approvals.redaction import redact_text


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line ``approvals: ...``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(FAILED, f"approvals: {redact_text(message)} (see '{self.prog} --help')\n")


Commands: TypeAlias = "argparse._SubParsersAction[Parser]"
"""Where a command module adds its subcommand (``add_subparsers()``)."""


def positive(text: str) -> int:
    """``text`` as an integer of at least 1, else argparse's usage error."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text[:20]!r}")
    return number
