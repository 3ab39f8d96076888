"""pydantic-ai (extra ``pydantic-ai``): deferred tool calls that require approval are
resolved by durable approvals (docs/agents.md).

``resolve_approvals(requests)`` turns a run's ``DeferredToolRequests`` into
``DeferredToolResults``: one approval per call, keyed by its tool call id, with the
validated arguments as the approval's args; approved (the approver's edit as
``override_args``) or denied (with the approver's message, or why nothing was
approved). ``approval_capability()`` does the same inside the run
(``HandleDeferredToolCalls``). Calls that are not approvals stay unresolved.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic_ai import (
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    ToolApproved,
    ToolDenied,
)
from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.messages import ToolCallPart

from durable_approvals.agents.guarded import Gate, Refused, call_key

KEY_PREFIX = "pyd"


async def _answer(
    gate: Gate, requests: DeferredToolRequests, call: ToolCallPart, scope: str | None
) -> tuple[ToolApproved | ToolDenied, str | None]:
    args = requests.validated_args.get(call.tool_call_id) or call.args_as_dict()
    key = call_key(KEY_PREFIX, call.tool_call_id, scope)
    answer = await gate.ask(call.tool_name, args, key=key)
    if isinstance(answer, Refused):
        return ToolDenied(f"{answer.status.value}: {answer.message}"), answer.decided_by
    override = answer.args if answer.edited else None
    return ToolApproved(override_args=override), answer.result.decided_by


async def resolve_approvals(
    requests: DeferredToolRequests, gate: Gate | None = None, *, scope: str | None = None
) -> DeferredToolResults:
    """Ask for every call in ``requests.approvals`` at once and wait for all answers.

    ``scope`` (a conversation id, say) keeps equal tool call ids of two conversations
    apart; the same call id in the same scope attaches to the same approval.
    """
    gate = gate or Gate()
    calls = list(requests.approvals)
    answers = await asyncio.gather(*(_answer(gate, requests, c, scope) for c in calls))
    approvals: dict[str, Any] = {}
    answered_by: dict[str, str] = {}
    for call, (result, decided_by) in zip(calls, answers, strict=True):
        approvals[call.tool_call_id] = result
        if decided_by:
            answered_by[call.tool_call_id] = decided_by
    return requests.build_results(approvals=approvals, answered_by=answered_by)


def approval_capability(
    gate: Gate | None = None, *, scope: str | None = None
) -> HandleDeferredToolCalls[Any]:
    """A capability that resolves approvals inside the run, through ``resolve_approvals``."""
    shared = gate or Gate()

    async def handler(
        ctx: RunContext[Any], requests: DeferredToolRequests
    ) -> DeferredToolResults | None:
        if not requests.approvals:
            return None
        return await resolve_approvals(requests, shared, scope=scope)

    return HandleDeferredToolCalls(handler)


__all__ = ["approval_capability", "resolve_approvals"]
