"""The MCP server (extra ``mcp``): any MCP client asks a durable approval.

Two tools, over stdio or streamable HTTP (``approvals-mcp``, ``python -m
durable_approvals.agents.mcp_server``; docs/agents.md):

- ``request_approval(action, reason, args?, key?)`` asks and waits durably; a retried
  call with the same ``key`` attaches to the same approval. While it waits it sends
  progress notifications (when the client asked for them, with a progress token).
- ``approval_prompt(tool_name, input, tool_use_id?)``: the permission-prompt tool of
  Claude Code's headless mode (``--permission-prompt-tool``); it answers the JSON text
  ``{"behavior": "allow", "updatedInput": {...}}`` (the input, or the approver's edit
  of it) or ``{"behavior": "deny", "message": "..."}``. The key comes from
  ``tool_use_id``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError

from durable_approvals.agents.guarded import Gate, Refused, call_key
from durable_approvals.client import start_approval
from durable_approvals.models import ApprovalResult, ApprovalStatus

T = TypeVar("T")

DEFAULT_PROGRESS_SECONDS = 15.0
REQUEST_DESCRIPTION = (
    "Request human approval before a sensitive action: anything destructive, expensive "
    "or outside your normal authority. A person sees the action and your reason and "
    "approves or denies it; the call waits for the answer. Proceed only if the result "
    'has "approved": true. If you give "args", act only with the "args" the result '
    'returns: the person may have edited them. Give the same "key" when you retry a '
    "call, to get the same approval's answer."
)
PROMPT_DESCRIPTION = (
    "Permission prompt for a tool call (Claude Code's --permission-prompt-tool): a "
    "person approves the call, maybe with edited input, or denies it."
)


async def waiting(ctx: Context[Any, Any] | None, work: Awaitable[T], what: str, every: float) -> T:
    """Await ``work``, reporting progress every ``every`` seconds meanwhile."""
    task = asyncio.ensure_future(work)
    beats = 0
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            beats += 1
            if ctx is not None:
                await ctx.report_progress(beats, None, f"waiting for a decision on {what}")
    finally:
        task.cancel()  # the caller went away: stop waiting (the approval itself stays)


def _failure(message: str) -> dict[str, Any]:
    return ApprovalResult(
        approved=False, status=ApprovalStatus.FAILURE, error=message
    ).as_tool_result()


def build_server(
    gate: Gate | None = None, *, progress_every: float = DEFAULT_PROGRESS_SECONDS
) -> MCPServer:
    """The server with both tools, asking through ``gate`` (default: the environment)."""
    gate = gate or Gate()
    server: MCPServer = MCPServer(
        "durable-approvals",
        instructions="Ask a human before sensitive actions; the answer survives restarts.",
    )

    @server.tool(description=REQUEST_DESCRIPTION)
    async def request_approval(
        action: str,
        reason: str,
        args: dict[str, Any] | None = None,
        key: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if args is None else {"args": args}
        try:
            settings, client = await gate.connected()
            handle = await start_approval(
                client,
                settings,
                action,
                reason,
                key=None if key is None else call_key("mcp", key),
                timeout=gate.timeout,
                **extra,
                **gate.policy,
            )
        except (ValidationError, ValueError) as error:
            return _failure(f"invalid approval request: {error}")
        except Exception as error:
            return _failure(f"cannot start the approval: {error}")
        try:
            result = await waiting(ctx, handle.result(), action, progress_every)
        except WorkflowFailureError as error:
            return _failure(f"approval workflow {handle.id} failed: {error.cause or error}")
        return result.as_tool_result()

    @server.tool(description=PROMPT_DESCRIPTION)
    async def approval_prompt(
        tool_name: str,
        input: dict[str, Any],  # the name Claude Code sends
        tool_use_id: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        key = None if not tool_use_id else call_key("cc", tool_use_id, tool_name)
        asking = gate.ask(tool_name, input, key=key, reason=f"Claude Code wants to use {tool_name}")
        answer = await waiting(ctx, asking, tool_name, progress_every)
        if isinstance(answer, Refused):
            return json.dumps(
                {"behavior": "deny", "message": f"{answer.status.value}: {answer.message}"}
            )
        return json.dumps({"behavior": "allow", "updatedInput": answer.args})

    return server


def main(argv: list[str] | None = None, *, prog: str = "approvals-mcp") -> None:
    """``approvals-mcp`` (or ``approvals mcp``): serve the tools over stdio (default) or
    streamable HTTP."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve durable approvals over MCP.")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--progress-every",
        type=float,
        default=DEFAULT_PROGRESS_SECONDS,
        help="seconds between progress notifications while a call waits",
    )
    options = parser.parse_args(argv)
    server = build_server(progress_every=options.progress_every)
    if options.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=options.host, port=options.port)


if __name__ == "__main__":
    main()
