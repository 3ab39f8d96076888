"""Who may decide: the self-approval rule, shared by the workflow and the reference platform."""

from __future__ import annotations

SELF_APPROVAL = "self-approval"
"""The ``rejected_because`` of a refused decision, and the platform's refusal reason."""


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


__all__ = ["SELF_APPROVAL", "is_self_decision"]
