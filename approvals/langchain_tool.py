"""The reference ``request_approval`` tool for LangChain agents (extra ``langchain``)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, tool
from temporalio.client import Client

from approvals.client import request_approval as _request_approval
from approvals.settings import Settings


def approval_tool(settings: Settings | None = None, client: Client | None = None) -> BaseTool:
    """The reference tool (name, arguments, description); it returns ``as_tool_result()``.

    ``settings`` default to the environment, ``client`` to one connected from them.
    """

    @tool
    async def request_approval(action: str, reason: str) -> dict[str, Any]:
        """Request human approval before proceeding with a sensitive action.

        Use this when you're about to do something destructive, expensive,
        or outside your normal authority. The request is sent to the canvas
        where a human can approve or deny it.

        Args:
            action: Short description of what you want to do
            reason: Why this action is necessary
        """
        result = await _request_approval(action, reason, settings=settings, client=client)
        return result.as_tool_result()

    return request_approval
