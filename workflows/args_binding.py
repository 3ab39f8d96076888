"""The binding rule (durable_approvals/binding.py) for one request, as a ``DecisionRules`` hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durable_approvals.binding import binding_refusal
from durable_approvals.models import ApprovalRequest, Decision


@dataclass(frozen=True)
class ArgsBinding:
    """Refuses the decisions that do not name this request's hash (or valid edits' hash)."""

    request: ApprovalRequest
    request_hash: str

    @classmethod
    def of(cls, request: ApprovalRequest) -> ArgsBinding:
        """The binding of ``request``; pure, deterministic: fine in workflow code."""
        return cls(request=request, request_hash=request.action_hash())

    def __call__(self, decision: Decision) -> str | None:
        request = self.request
        return binding_refusal(
            workspace_id=request.workspace_id,
            action=request.action,
            args=request.args,
            args_schema=request.args_schema,
            request_hash=self.request_hash,
            approved=decision.approved,
            decision_hash=decision.action_hash,
            edited_args=decision.edited_args,
        )

    def approved_args(self, decision: Decision) -> tuple[dict[str, Any] | None, str]:
        """The args ``decision`` approves (edited or original) and their hash."""
        if decision.edited_args is not None and decision.action_hash is not None:
            return decision.edited_args, decision.action_hash
        return self.request.args, self.request_hash

    def create_fields(self) -> dict[str, Any]:
        """The create input's args fields; none for a request without args."""
        request = self.request
        if request.args is None:
            return {}
        return {
            "args": request.args,
            "args_schema": request.args_schema,
            "action_hash": self.request_hash,
        }

    def audit_fields(self) -> dict[str, Any]:
        """Audit the hash and the args' key names, never their values (they may hold secrets)."""
        if self.request.args is None:
            return {}
        return {"action_hash": self.request_hash, "arg_keys": sorted(self.request.args)}

    def approved_audit_fields(self, decision: Decision) -> dict[str, Any]:
        """The outcome record's binding fields: the hash approved, and whether edited."""
        if self.request.args is None and decision.action_hash is None:
            return {}
        _, approved_hash = self.approved_args(decision)
        return {"action_hash": approved_hash, "edited": decision.edited_args is not None}

    def result_fields(self, decision: Decision) -> dict[str, Any]:
        """The result's binding fields (``ApprovalResult.covers``), for a request with args."""
        request = self.request
        if request.args is None:
            return {}
        args, approved_hash = self.approved_args(decision)
        return {
            "workspace_id": request.workspace_id,
            "args": args,
            "action_hash": approved_hash,
            "edited": decision.edited_args is not None,
        }
