"""The reference ``request_approval`` tool for LangChain and LangGraph agents (extra
``langchain``): the key comes from the tool call, failures come back as its result."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import ArgsSchema, BaseTool, InjectedToolCallId
from pydantic import BaseModel, Field, PrivateAttr, SkipValidation, ValidationError
from temporalio.client import Client, WorkflowFailureError

from durable_approvals.client import build_request, start_approval
from durable_approvals.connection import ConnectionSettingsError, connect
from durable_approvals.models import (
    MAX_ACTION_CHARS,
    MAX_REASON_CHARS,
    ApprovalResult,
    ApprovalStatus,
)
from durable_approvals.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "Request human approval before proceeding with a sensitive action: anything "
    "destructive, expensive, or outside your normal authority. A person sees the action "
    "and your reason and approves or denies it; the call waits for the answer. Proceed "
    'only if the result has "approved": true; otherwise "message" or "error" says why. '
    'If you give "args", act only with the "args" the result returns: the person may have '
    "edited them."
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class RequestApprovalArgs(BaseModel):
    """The tool's arguments; ``tool_call_id`` is injected, never shown to the model."""

    action: str = Field(
        min_length=1,
        max_length=MAX_ACTION_CHARS,
        description="What you want to do, in one short sentence a person can approve or "
        'deny, e.g. "Drop the staging database".',
    )
    reason: str = Field(
        max_length=MAX_REASON_CHARS,
        description="Why this action is necessary: what the person needs to know to decide.",
    )
    args: dict[str, Any] | None = Field(
        default=None,
        description="Optional: the action's arguments as a JSON object, e.g. "
        '{"db": "staging", "dry_run": false}. The person approves exactly these, or '
        'edits them; the result\'s "args" are the ones to use.',
    )
    tool_call_id: Annotated[str, InjectedToolCallId] = ""


def approval_key(tool_call_id: str, thread_id: str | None = None) -> str | None:
    """The approval key for a tool call: the same call (and thread) gives the same key.

    ``lc-{tool call id, made safe}-{hash of thread id and tool call id}``: a valid
    ``Identifier`` whatever the ids contain; the hash keeps two ids that differ only
    in unsafe characters, or one call id in two threads, apart. ``None`` (a new
    request each call) when there is no tool call id.
    """
    if not tool_call_id:
        return None
    digest = hashlib.sha256(json.dumps([thread_id, tool_call_id]).encode()).hexdigest()
    return f"lc-{_UNSAFE.sub('_', tool_call_id)[:64]}-{digest[:20]}"


def _thread_id(config: RunnableConfig | None) -> str | None:
    thread_id = ((config or {}).get("configurable") or {}).get("thread_id")
    return None if thread_id is None or thread_id == "" else str(thread_id)


def _failure(message: str) -> dict[str, Any]:
    logger.warning("request_approval failed: %s", message)
    return ApprovalResult(
        approved=False, status=ApprovalStatus.FAILURE, error=message
    ).as_tool_result()


def _errors(error: ValidationError, env_names: bool = False) -> str:
    """``field: message; ...``, with settings fields named as their env variables."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "input"
        if env_names or where == "workspace_id":
            where = where.upper()
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _invalid_arguments(error: Exception) -> Any:
    """The arguments failed the schema: the same failure result as any other failure."""
    detail = _errors(error) if isinstance(error, ValidationError) else str(error)
    return _failure(f"invalid arguments: {detail}")


class ApprovalTool(BaseTool):
    """``request_approval``: asks a human and waits durably; see the module docstring."""

    name: str = "request_approval"
    description: str = DESCRIPTION
    args_schema: Annotated[ArgsSchema | None, SkipValidation()] = RequestApprovalArgs
    handle_validation_error: Any = _invalid_arguments

    _settings: Settings | None = PrivateAttr(default=None)
    _client: Client | None = PrivateAttr(default=None)
    _policy: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(
        self,
        settings: Settings | None = None,
        client: Client | None = None,
        policy: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._client = client
        self._policy = {k: v for k, v in (policy or {}).items() if v is not None}

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        # LangChain refuses a call without a tool call id when the schema injects one;
        # here that call is allowed and simply has no key (a new request).
        return super()._parse_input(tool_input, tool_call_id or "")

    async def _arun(
        self,
        action: str,
        reason: str,
        tool_call_id: Annotated[str, InjectedToolCallId],
        config: RunnableConfig,
        args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = approval_key(tool_call_id, _thread_id(config))
        return await self._ask(action, reason, key, args)

    def _run(
        self,
        action: str,
        reason: str,
        tool_call_id: Annotated[str, InjectedToolCallId],
        config: RunnableConfig,
        args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: run one for the call
            key = approval_key(tool_call_id, _thread_id(config))
            return asyncio.run(self._ask(action, reason, key, args))
        return _failure("invoked synchronously inside a running event loop: use ainvoke")

    async def _ask(
        self, action: str, reason: str, key: str | None, args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Ask and wait; with ``args`` the result carries the approved (maybe edited) args."""
        extra: dict[str, Any] = {} if args is None else {"args": args}
        try:
            settings = self._settings or Settings()
        except ValidationError as error:
            return _failure(f"invalid settings: {_errors(error, env_names=True)}")
        try:
            # refused here, before anything is sent
            build_request(settings, action, reason, **extra, **self._policy)
        except SettingsError as error:
            return _failure(str(error))
        except ValidationError as error:
            return _failure(f"invalid approval request: {_errors(error)}")
        temporal = (
            f"Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}; TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE)"
        )
        try:
            client = self._client or await connect(settings)
            handle = await start_approval(
                client, settings, action, reason, key=key, **extra, **self._policy
            )
        except ConnectionSettingsError as error:
            return _failure(str(error))
        except Exception as error:
            return _failure(f"cannot start the approval on {temporal}: {error}")
        try:
            result = await handle.result()
        except WorkflowFailureError as error:
            return _failure(f"approval workflow {handle.id} failed: {error.cause or error}")
        except Exception as error:
            return _failure(f"lost {temporal} waiting for workflow {handle.id}: {error}")
        return result.as_tool_result()


def approval_tool(
    settings: Settings | None = None,
    client: Client | None = None,
    *,
    remind_every: float | None = None,
    escalate_after: float | None = None,
    escalate_to: str | None = None,
    on_timeout: str | None = None,
    escalation_timeout: float | None = None,
    approvals_required: int | None = None,
    approver_group: str | None = None,
) -> BaseTool:
    """A ``request_approval`` tool; settings from the environment unless given.

    The policies are the deployment's, not the model's: they apply to every call and are
    not among the arguments the model sees; a bad policy makes every call's result a
    failure naming the field. Escalation and reminders: docs/policies/escalation.md;
    ``approvals_required`` and ``approver_group`` (N-of-M, docs/policies/n-of-m.md) make
    the result list ``approvers``.
    """
    policy = {
        "remind_every": remind_every,
        "escalate_after": escalate_after,
        "escalate_to": escalate_to,
        "on_timeout": on_timeout,
        "escalation_timeout": escalation_timeout,
        "approvals_required": approvals_required,
        "approver_group": approver_group,
    }
    return ApprovalTool(settings, client, policy)
