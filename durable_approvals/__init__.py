"""durable-approvals: human approval for AI agents that survives crashes and restarts.

``await request_approval(action, reason, key=...)`` asks a human and waits durably
for the answer, an ``ApprovalResult``. The LangChain tool is
``durable_approvals.langchain_tool.approval_tool`` (extra ``langchain``); the CLI is
``durable_approvals.cli`` (``approvals --help``).

The names below load on first use (PEP 562), so that importing a room under this
namespace (the worker's workflows, in Temporal's sandbox) does not load the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durable_approvals.client import (
        ApprovalClosedError,
        ApprovalHandle,
        DecisionTimeoutError,
        approval_status,
        build_request,
        decide,
        request_approval,
        send_decision,
        start_approval,
        workflow_id_for,
    )
    from durable_approvals.connection import ConnectionSettingsError, connect
    from durable_approvals.converter import data_converter
    from durable_approvals.models import (
        APPROVAL_WORKFLOW,
        DECIDE_SIGNAL,
        DECIDE_UPDATE,
        STATUS_QUERY,
        ApprovalRequest,
        ApprovalResult,
        ApprovalState,
        ApprovalStatus,
        ApprovalStatusView,
        Decision,
        DecisionSource,
        DecisionVerdict,
        OnTimeout,
        VerdictOutcome,
        WebSocketMode,
    )
    from durable_approvals.platform_client import PlatformClient, PlatformError
    from durable_approvals.settings import Settings

_HOMES: dict[str, str] = {
    "ApprovalClosedError": "durable_approvals.client",
    "ApprovalHandle": "durable_approvals.client",
    "DecisionTimeoutError": "durable_approvals.client",
    "approval_status": "durable_approvals.client",
    "build_request": "durable_approvals.client",
    "decide": "durable_approvals.client",
    "request_approval": "durable_approvals.client",
    "send_decision": "durable_approvals.client",
    "start_approval": "durable_approvals.client",
    "workflow_id_for": "durable_approvals.client",
    "ConnectionSettingsError": "durable_approvals.connection",
    "connect": "durable_approvals.connection",
    "data_converter": "durable_approvals.converter",
    "APPROVAL_WORKFLOW": "durable_approvals.models",
    "DECIDE_SIGNAL": "durable_approvals.models",
    "DECIDE_UPDATE": "durable_approvals.models",
    "STATUS_QUERY": "durable_approvals.models",
    "ApprovalRequest": "durable_approvals.models",
    "ApprovalResult": "durable_approvals.models",
    "ApprovalState": "durable_approvals.models",
    "ApprovalStatus": "durable_approvals.models",
    "ApprovalStatusView": "durable_approvals.models",
    "Decision": "durable_approvals.models",
    "DecisionSource": "durable_approvals.models",
    "DecisionVerdict": "durable_approvals.models",
    "OnTimeout": "durable_approvals.models",
    "VerdictOutcome": "durable_approvals.models",
    "WebSocketMode": "durable_approvals.models",
    "PlatformClient": "durable_approvals.platform_client",
    "PlatformError": "durable_approvals.platform_client",
    "Settings": "durable_approvals.settings",
}

__all__ = [
    "APPROVAL_WORKFLOW",
    "DECIDE_SIGNAL",
    "DECIDE_UPDATE",
    "STATUS_QUERY",
    "ApprovalClosedError",
    "ApprovalHandle",
    "ApprovalRequest",
    "ApprovalResult",
    "ApprovalState",
    "ApprovalStatus",
    "ApprovalStatusView",
    "ConnectionSettingsError",
    "Decision",
    "DecisionSource",
    "DecisionTimeoutError",
    "DecisionVerdict",
    "OnTimeout",
    "PlatformClient",
    "PlatformError",
    "Settings",
    "VerdictOutcome",
    "WebSocketMode",
    "approval_status",
    "build_request",
    "connect",
    "data_converter",
    "decide",
    "request_approval",
    "send_decision",
    "start_approval",
    "workflow_id_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
