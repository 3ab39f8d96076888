"""Who may decide: the self-approval rule, shared by the workflow and the reference platform."""

from __future__ import annotations

SELF_APPROVAL = "self-approval"
"""The ``rejected_because`` of a refused decision, and the platform's refusal reason."""
NOT_IN_GROUP = "not in approver group"
"""The same for a vote by someone outside the request's approver group (N-of-M)."""


def _normal(name: str | None) -> str:
    # casefold, not lower: "Straße" and "STRASSE" are the same login to a human.
    return (name or "").strip().casefold()


def is_self_decision(requester: str | None, decided_by: str | None) -> bool:
    """Whether ``decided_by`` is the requester (case-insensitive, surrounding blanks ignored).

    Args:
        requester: who asked; empty or ``None`` (unknown) matches nobody.
        decided_by: who decides.

    Returns:
        True when both name the same, known identity.
    """
    asked = _normal(requester)
    return bool(asked) and asked == _normal(decided_by)


def identity_key(name: str | None) -> str:
    """The form two names are compared in: casefolded, surrounding blanks ignored."""
    return _normal(name)


def same_identity(one: str | None, other: str | None) -> bool:
    """Whether two names are the same, known identity (the rule ``is_self_decision`` uses)."""
    return is_self_decision(one, other)


__all__ = ["NOT_IN_GROUP", "SELF_APPROVAL", "identity_key", "is_self_decision", "same_identity"]
