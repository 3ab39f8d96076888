"""Guarded tools: a callable that runs only when a human approved this call, and then
with the arguments approved (edits applied). The adapters of every framework ask
through ``Gate.ask`` too (docs/agents.md)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, ParamSpec, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import Client, WorkflowFailureError

from durable_approvals.client import start_approval
from durable_approvals.connection import connect
from durable_approvals.models import ApprovalResult, ApprovalStatus
from durable_approvals.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class RefusalReason(StrEnum):
    """Why a guarded call did not run."""

    DENIED = "denied"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    RBAC_DENIED = "rbac_denied"
    FAILURE = "failure"
    """The approval could not be asked or awaited (bad args, settings, Temporal)."""
    NOT_COVERED = "not_covered"
    """Granted, but not for this action with these arguments (a key reused for others)."""


class Refused(BaseModel):
    """A call that did not run, as the agent reads it: why, and who said so."""

    model_config = ConfigDict(frozen=True)

    status: RefusalReason
    message: str
    action: str
    approval_id: str | None = None
    decided_by: str | None = None

    def as_tool_result(self) -> dict[str, Any]:
        """The JSON a framework hands the model instead of the tool's output."""
        return {"approved": False, **self.model_dump(mode="json", exclude_none=True)}


class ApprovalRefusedError(PermissionError):
    """Raised instead of returning ``Refused`` (``raise_on_refusal=True``)."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(f"{refused.action}: {refused.status.value}: {refused.message}")
        self.refused = refused


@dataclass(frozen=True)
class Approved:
    """A granted call: the arguments to run it with (the approver's edits applied)."""

    args: dict[str, Any]
    result: ApprovalResult

    @property
    def edited(self) -> bool:
        return bool(self.result.edited)


def call_key(prefix: str, call_id: str, scope: str | None = None) -> str:
    """The approval key of one tool call: ``{prefix}-{call id made safe}-{hash}``.

    The same call id (in the same ``scope``: a thread, a run) gives the same key, so a
    retried or resumed call attaches to the same approval; the hash keeps ids that
    differ only in unsafe characters, or one id in two scopes, apart.
    """
    digest = hashlib.sha256(json.dumps([prefix, scope, call_id]).encode()).hexdigest()
    return f"{prefix}-{_UNSAFE.sub('_', call_id)[:64]}-{digest[:20]}"


def _refused(result: ApprovalResult, action: str) -> Refused:
    reasons = {
        ApprovalStatus.DENIED: RefusalReason.DENIED,
        ApprovalStatus.TIMEOUT: RefusalReason.TIMEOUT,
        ApprovalStatus.CANCELLED: RefusalReason.CANCELLED,
        ApprovalStatus.RBAC_DENIED: RefusalReason.RBAC_DENIED,
    }
    status = reasons.get(result.status, RefusalReason.FAILURE)
    message = result.comment or result.message or result.error or f"approval {status.value}"
    return Refused(
        status=status,
        message=message,
        action=action,
        approval_id=result.approval_id,
        decided_by=result.decided_by,
    )


@dataclass
class Gate:
    """Where and how calls are asked: settings (default: the environment), a Temporal
    client (default: one connected from them), the approval deadline, and the request's
    policy fields (``approvals_required``, ``escalate_after``...: docs/policies/)."""

    settings: Settings | None = None
    client: Client | None = None
    timeout: float | None = None
    policy: dict[str, Any] = field(default_factory=dict)

    async def connected(self) -> tuple[Settings, Client]:
        """The settings and a client, created once."""
        if self.settings is None:
            self.settings = Settings()
        if self.client is None:
            self.client = await connect(self.settings)
        return self.settings, self.client

    async def ask(
        self,
        action: str,
        args: dict[str, Any],
        *,
        key: str | None = None,
        reason: str = "",
    ) -> Approved | Refused:
        """Ask a human to approve ``action`` with ``args`` and wait durably.

        ``key`` names the approval (a retried call with the same key gets the same
        answer). Approved only when granted and the approval covers ``action`` with the
        args it returns: the request's args, or the approver's edit of them; an unedited
        approval must also cover ``args`` (a reused key asked for other args).
        """
        try:
            settings, client = await self.connected()
            handle = await start_approval(
                client,
                settings,
                action,
                reason,
                key=key,
                timeout=self.timeout,
                args=args,
                **self.policy,
            )
        except (ValidationError, ValueError) as error:
            return Refused(status=RefusalReason.FAILURE, message=str(error), action=action)
        except Exception as error:
            message = f"cannot start the approval: {error}"
            return Refused(status=RefusalReason.FAILURE, message=message, action=action)
        try:
            result = await handle.result()
        except WorkflowFailureError as error:
            message = f"approval workflow {handle.id} failed: {error.cause or error}"
            return Refused(status=RefusalReason.FAILURE, message=message, action=action)
        return judge(result, action, args)


def judge(result: ApprovalResult, action: str, args: dict[str, Any]) -> Approved | Refused:
    """``Approved`` with the args to run, or ``Refused``: see ``Gate.ask``."""
    if not result.approved:
        return _refused(result, action)
    approved = result.args
    if (
        approved is None
        or not result.covers(action, approved)
        or (not result.edited and not result.covers(action, args))
    ):
        return Refused(
            status=RefusalReason.NOT_COVERED,
            message="the approval does not cover this action with these arguments",
            action=action,
            approval_id=result.approval_id,
            decided_by=result.decided_by,
        )
    return Approved(args=approved, result=result)


def call_arguments(signature: inspect.Signature, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The call's arguments by name, defaults included (the approver sees and may edit
    them); ``**kwargs`` of the callable are flattened in."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    named: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = value
    return named


class GuardedTool(Generic[P, R]):
    """A callable that asks before it runs; see ``guarded``."""

    def __init__(
        self,
        func: Callable[P, R] | Callable[P, Awaitable[R]],
        *,
        action: str | None,
        reason: str,
        gate: Gate,
        raise_on_refusal: bool,
    ) -> None:
        self.func = func
        self.action = action or func.__name__
        self.reason = reason
        self.gate = gate
        self.raise_on_refusal = raise_on_refusal
        self.signature = inspect.signature(func)
        if any(
            p.kind is inspect.Parameter.VAR_POSITIONAL for p in self.signature.parameters.values()
        ):
            raise TypeError(f"{self.action}: a guarded callable cannot take *args")
        functools.update_wrapper(self, func)

    async def call(self, call_id: str | None, /, *args: P.args, **kwargs: P.kwargs) -> R | Refused:
        """Ask for this call (keyed by ``call_id``: the same id, the same approval; none, a
        new request) and run it with the approved arguments, or return ``Refused``."""
        arguments = call_arguments(self.signature, *args, **kwargs)
        key = None if call_id is None else call_key("g", call_id, self.action)
        answer = await self.gate.ask(self.action, arguments, key=key, reason=self.reason)
        if isinstance(answer, Refused):
            if self.raise_on_refusal:
                raise ApprovalRefusedError(answer)
            return answer
        func = cast(Callable[..., Any], self.func)
        if inspect.iscoroutinefunction(func):
            return cast(R, await func(**answer.args))
        return cast(R, await asyncio.to_thread(func, **answer.args))

    async def acall(self, *args: P.args, **kwargs: P.kwargs) -> R | Refused:
        """``call`` without a call id: a new request each time."""
        return await self.call(None, *args, **kwargs)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """An async callable is awaited as before; a sync one runs the ask in its own event
        loop (not from inside a running loop: use ``acall`` there)."""
        if inspect.iscoroutinefunction(self.func):
            return self.acall(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.acall(*args, **kwargs))
        raise RuntimeError(f"{self.action}: called synchronously inside an event loop: use acall")


def guarded(
    action: str | None = None,
    *,
    reason: str = "",
    gate: Gate | None = None,
    raise_on_refusal: bool = False,
) -> Callable[[Callable[P, Any]], GuardedTool[P, Any]]:
    """Decorate a callable (sync or async) so that every call asks a durable approval
    first, with the call's arguments by name as the approval's args, and runs only when
    approved, with the approved (maybe edited) arguments. A denial, a timeout or a
    failure returns ``Refused`` (or raises ``ApprovalRefusedError``) and the callable
    never runs. ``action`` defaults to the callable's name."""

    def decorate(func: Callable[P, Any]) -> GuardedTool[P, Any]:
        return GuardedTool(
            func,
            action=action,
            reason=reason,
            gate=gate or Gate(),
            raise_on_refusal=raise_on_refusal,
        )

    return decorate


__all__ = [
    "ApprovalRefusedError",
    "Approved",
    "Gate",
    "GuardedTool",
    "RefusalReason",
    "Refused",
    "call_key",
    "guarded",
    "judge",
]
