"""The parser of ``approvals``: each command module adds its own subcommand."""

from __future__ import annotations

import argparse

from durable_approvals.cli import audit, decide, listing, mcp, request
from durable_approvals.cli.arguments import Parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``approvals request|decide|list|show|audit|mcp``; each command's ``run``
    is in the parsed namespace."""
    parser = Parser(prog="approvals", description="Durable human approval for AI agents.")
    commands = parser.add_subparsers(dest="command", title="commands")
    request.add_parser(commands)
    decide.add_parser(commands)
    listing.add_parsers(commands)
    audit.add_parser(commands)
    mcp.add_parser(commands)
    return parser
