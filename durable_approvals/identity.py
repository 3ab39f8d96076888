"""Who may decide: the self-approval rule, shared by the workflow and the reference platform.

Names compare by ``identity_key``: look-alikes and invisible characters folded, so that
``alice`` spelt with a Cyrillic ``a`` or a zero-width space is alice (docs/trust-model.md,
"Names").
Pure code over the standard library's ``unicodedata``: deterministic, safe in workflows.
"""

from __future__ import annotations

import unicodedata

SELF_APPROVAL = "self-approval"
"""The ``rejected_because`` of a refused decision, and the platform's refusal reason."""
NOT_IN_GROUP = "not in approver group"
"""The same for a vote by someone outside the request's approver group (N-of-M)."""

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): never visible.
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORABLE: dict[int, None] = {
    code: None for first, last in _IGNORABLE_RANGES for code in range(first, last + 1)
}

# A small table of the common look-alikes of Latin letters (after casefolding), from
# Unicode TR39's confusables: Cyrillic, Greek, a few Armenian and Latin (IPA) letters.
# Each maps to the Latin letter it (or its capital) is mistaken for. Not the full TR39
# skeleton: digits and Latin-only confusions (``l``/``I``/``1``, ``rn``/``m``) stay apart.
_LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "\u0430": "a",  # cyrillic small letter a
        "\u0432": "b",  # cyrillic small letter ve
        "\u0441": "c",  # cyrillic small letter es
        "\u0501": "d",  # cyrillic small letter komi de
        "\u0435": "e",  # cyrillic small letter ie
        "\u04bb": "h",  # cyrillic small letter shha
        "\u043d": "h",  # cyrillic small letter en
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u0458": "j",  # cyrillic small letter je
        "\u043a": "k",  # cyrillic small letter ka
        "\u04cf": "l",  # cyrillic small letter palochka
        "\u043c": "m",  # cyrillic small letter em
        "\u043e": "o",  # cyrillic small letter o
        "\u0440": "p",  # cyrillic small letter er
        "\u051b": "q",  # cyrillic small letter qa
        "\u0455": "s",  # cyrillic small letter dze
        "\u0442": "t",  # cyrillic small letter te
        "\u0475": "v",  # cyrillic small letter izhitsa
        "\u051d": "w",  # cyrillic small letter we
        "\u0445": "x",  # cyrillic small letter ha
        "\u0443": "y",  # cyrillic small letter u
        "\u04af": "y",  # cyrillic small letter straight u
        # Greek
        "\u03b1": "a",  # greek small letter alpha
        "\u03b2": "b",  # greek small letter beta
        "\u03b5": "e",  # greek small letter epsilon
        "\u03b7": "n",  # greek small letter eta
        "\u03b9": "i",  # greek small letter iota
        "\u03ba": "k",  # greek small letter kappa
        "\u03bc": "m",  # greek small letter mu
        "\u03bd": "v",  # greek small letter nu
        "\u03bf": "o",  # greek small letter omicron
        "\u03c1": "p",  # greek small letter rho
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03c7": "x",  # greek small letter chi
        "\u03b6": "z",  # greek small letter zeta
        # Armenian
        "\u0570": "h",  # armenian small letter ho
        "\u0578": "n",  # armenian small letter vo
        "\u0585": "o",  # armenian small letter oh
        "\u057d": "u",  # armenian small letter seh
        "\u0581": "g",  # armenian small letter co
        # Latin letters of other alphabets (IPA and others)
        "\u0131": "i",  # latin small letter dotless i
        "\u0269": "i",  # latin small letter iota
        "\u0251": "a",  # latin small letter alpha
        "\u0261": "g",  # latin small letter script g
    }
)


def identity_key(name: str | None) -> str:
    """The form two names are compared in.

    Invisible (default-ignorable) code points removed, NFKC (fullwidth and styled
    letters are plain), casefolded, common look-alikes of Latin letters mapped to them,
    surrounding blanks ignored.
    """
    text = unicodedata.normalize("NFKC", (name or "").translate(_IGNORABLE))
    # NFKC and casefold may produce ignorables; NFD exposes the base letter of "ё".
    text = unicodedata.normalize("NFD", text.translate(_IGNORABLE).casefold())
    return unicodedata.normalize("NFC", text.translate(_LOOK_ALIKES)).strip()


def is_self_decision(requester: str | None, decided_by: str | None) -> bool:
    """Whether ``decided_by`` is the requester (``identity_key``: case, look-alikes and
    invisible characters folded).

    Args:
        requester: who asked; empty or ``None`` (unknown) matches nobody.
        decided_by: who decides.

    Returns:
        True when both name the same, known identity.
    """
    asked = identity_key(requester)
    return bool(asked) and asked == identity_key(decided_by)


def same_identity(one: str | None, other: str | None) -> bool:
    """Whether two names are the same, known identity (the rule ``is_self_decision`` uses)."""
    return is_self_decision(one, other)


__all__ = ["NOT_IN_GROUP", "SELF_APPROVAL", "identity_key", "is_self_decision", "same_identity"]
