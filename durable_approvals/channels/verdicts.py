"""How a verdict reads back to the person who clicked or confirmed (docs/channels.md)."""

from __future__ import annotations

from durable_approvals.models import DecisionVerdict, VerdictOutcome


def verdict_text(verdict: DecisionVerdict) -> str:
    """``taken: approved``, ``counted: 1 of 2``, ``repeated``, ``refused: self-approval``."""
    if verdict.outcome is VerdictOutcome.REFUSED:
        return f"refused: {verdict.reason or 'refused'}"
    if verdict.outcome is VerdictOutcome.COUNTED:
        return f"counted: {verdict.votes} of {verdict.approvals_required}"
    if verdict.outcome is VerdictOutcome.REPEATED:
        return "repeated: already counted"
    decision = verdict.decision
    answer = "approved" if decision is None or decision.approved else "denied"
    return f"taken: {answer}"


__all__ = ["verdict_text"]
