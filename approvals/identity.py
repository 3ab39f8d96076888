"""Who may decide: the one rule shared by the workflow and the reference platform.

An approval exists so that a second person looks at the action. The identity
that asked (``ApprovalRequest.requester``) deciding its own request would defeat
that, so both places that accept decisions refuse it. They must agree on what
"the same identity" means, hence this one function instead of two copies.
"""

from __future__ import annotations

SELF_APPROVAL = "self-approval"
"""The ``rejected_because`` of a refused decision, and the platform's refusal reason."""


def _normal(name: str | None) -> str:
    # casefold, not lower: "Straße" and "STRASSE" are the same login to a human.
    return (name or "").strip().casefold()


def is_self_decision(requester: str | None, decided_by: str | None) -> bool:
    """Whether ``decided_by`` is the requester (case-insensitive, surrounding blanks ignored).

    Args:
        requester: who asked; empty or ``None`` means unknown, and then nobody
            counts as the requester (old requests and callers that do not say).
        decided_by: who decides.

    Returns:
        True when both name the same, known identity.
    """
    asked = _normal(requester)
    return bool(asked) and asked == _normal(decided_by)


__all__ = ["SELF_APPROVAL", "is_self_decision"]
