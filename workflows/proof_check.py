"""Whether a decision carries the platform's valid proof: pure computation, no I/O, so the
workflow (and an Update validator) may call it (docs/trust-model.md)."""

from __future__ import annotations

from dataclasses import dataclass

from durable_approvals.models import Decision
from durable_approvals.proof import canonical_statement, verify
from durable_approvals.workflows.decision_rules import UNVERIFIED


@dataclass(frozen=True)
class ProofCheck:
    """The proof rule of one approval: the workspace, the platform's public key (from the
    worker's settings through the RBAC verdict, never from the request) and the policy."""

    workspace_id: str
    verify_key: str | None = None
    required: bool = False
    votes: bool | None = None
    """Which statement a proof must sign: a vote's (a request that counts votes), a
    decision's (``False``), or either (``None``, a caller that does not say)."""

    def verified(self, decision: Decision) -> bool:
        """Whether ``decision``'s proof is the platform's signature over this workspace,
        its approval id, answer, decider, action hash and time, as a vote or a decision."""
        key, decided_at = self.verify_key, decision.decided_at
        if key is None or decision.proof is None or decided_at is None:
            return False
        kinds = (False, True) if self.votes is None else (self.votes,)
        return any(
            verify(
                key,
                canonical_statement(
                    workspace_id=self.workspace_id,
                    approval_id=decision.approval_id,
                    approved=decision.approved,
                    decided_by=decision.decided_by,
                    action_hash=decision.action_hash,
                    decided_at=decided_at,
                    vote=vote,
                ),
                decision.proof,
            )
            for vote in kinds
        )

    def __call__(self, decision: Decision) -> str | None:
        """Why ``decision`` is refused (``unverified``), or ``None`` when it may be taken."""
        if self.required and not self.verified(decision):
            return UNVERIFIED
        return None


__all__ = ["UNVERIFIED", "ProofCheck"]
