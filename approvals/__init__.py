"""durable-approvals: human approval for AI agents that survives crashes and restarts.

``await request_approval(action, reason, key=...)`` asks a human and waits durably
for the answer, an ``ApprovalResult``. The LangChain tool is
``approvals.langchain_tool.approval_tool`` (extra ``langchain``); the CLI is
``approvals.cli`` (``approvals --help``).
"""

from approvals.client import (
    ApprovalHandle,
    approval_status,
    build_request,
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
    STATUS_QUERY,
    ApprovalRequest,
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    ApprovalStatusView,
    Decision,
    DecisionSource,
    OnTimeout,
    WebSocketMode,
)
from approvals.platform_client import PlatformClient, PlatformError
from approvals.settings import Settings

__all__ = [
    "APPROVAL_WORKFLOW",
    "DECIDE_SIGNAL",
    "STATUS_QUERY",
    "ApprovalHandle",
    "ApprovalRequest",
    "ApprovalResult",
    "ApprovalState",
    "ApprovalStatus",
    "ApprovalStatusView",
    "ConnectionSettingsError",
    "Decision",
    "DecisionSource",
    "OnTimeout",
    "PlatformClient",
    "PlatformError",
    "Settings",
    "WebSocketMode",
    "approval_status",
    "build_request",
    "connect",
    "data_converter",
    "request_approval",
    "send_decision",
    "start_approval",
    "workflow_id_for",
]
