"""``approvals mcp``: serve ``request_approval`` and the permission prompt over MCP
(docs/agents.md); the same server as ``approvals-mcp``, with the ``[mcp]`` extra."""

from __future__ import annotations

from collections.abc import Sequence

from durable_approvals.cli.arguments import Commands

COMMAND = "mcp"


def serve(argv: Sequence[str]) -> int:
    """Run the MCP server with ``argv`` (its own options: ``approvals mcp --help``)."""
    try:
        from durable_approvals.agents import mcp_server
    except ImportError as error:
        raise RuntimeError(
            f"approvals mcp needs the mcp extra: pip install 'durable-approvals[mcp]' ({error})"
        ) from None
    mcp_server.main(list(argv), prog="approvals mcp")
    return 0


def add_parser(commands: Commands) -> None:
    """Listed in ``approvals --help``; its options are the server's (``run_command`` hands
    them over unparsed)."""
    commands.add_parser(
        COMMAND,
        help="serve request_approval and a permission-prompt tool over MCP (stdio or HTTP)",
        add_help=False,
    )
