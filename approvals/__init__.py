"""durable-approvals: human approval for AI agents that survives crashes and restarts.

``await request_approval(action, reason, key=...)`` asks a human and waits durably
for the answer, an ``ApprovalResult``. The LangChain tool is
``approvals.langchain_tool.approval_tool`` (extra ``langchain``); the CLI is
``approvals.cli`` (``approvals --help``).
"""

from approvals.client import (
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
from approvals.connection import ConnectionSettingsError, connect
from approvals.converter import data_converter
from approvals.models import (
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
from approvals.platform_client import PlatformClient, PlatformError
from approvals.settings import Settings

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
