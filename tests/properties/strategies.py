"""Shared Hypothesis strategies: JSON values as ``check_json_args`` accepts them, names,
decisions."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from durable_approvals.action_hash import MAX_SAFE_INTEGER
from durable_approvals.models import Decision, DecisionSource

APPROVAL = "a-1"
OTHER_APPROVAL = "a-2"

keys = st.text(max_size=6)
"""Object keys: any Unicode (surrogates excluded), astral characters included."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)


def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """JSON values nested at most ``depth`` levels (well inside ``MAX_ARGS_DEPTH``)."""
    if depth == 0:
        return scalars
    inner = json_values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    )


def json_objects(depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects (what ``args`` may be)."""
    return st.dictionaries(keys, json_values(depth - 1), max_size=5)


any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
"""JSON values of any depth (for fuzzing: may exceed the limits)."""

NAMES = ("alice", "bob", "carol", "dave", "agent")
"""A small pool, so that deciders repeat; ``agent`` is the usual requester."""


LOOK_ALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440"}
"""Latin letters and the Cyrillic letters that look the same."""
INVISIBLE = ("\u200b", "\u00ad", "\ufeff")
"""A zero-width space, a soft hyphen, a zero-width no-break space."""


@st.composite
def spellings(draw: st.DrawFn, names: tuple[str, ...] = NAMES) -> str:
    """One of ``names`` as a person (or an impostor) may type it: any case, blanks around
    it, an invisible character inside, Cyrillic look-alikes for some letters."""
    name = draw(st.sampled_from(names))
    if draw(st.booleans()):
        name = name.upper() if draw(st.booleans()) else name.title()
    if draw(st.sampled_from([False, False, True])):
        name = "".join(LOOK_ALIKES.get(c, c) if draw(st.booleans()) else c for c in name)
    if draw(st.sampled_from([False, False, True])):
        at = draw(st.integers(0, len(name)))
        name = name[:at] + draw(st.sampled_from(INVISIBLE)) + name[at:]
    return draw(st.sampled_from(("", " ", "  "))) + name + draw(st.sampled_from(("", " ")))


def spelt(name: str) -> str:
    """Which of ``NAMES`` (or ``""``) a ``spellings()`` string spells: undoes exactly what
    ``spellings`` does, so the tests' idea of a person does not come from the code under
    test (``durable_approvals.identity``)."""
    for character in INVISIBLE:
        name = name.replace(character, "")
    latin = {cyrillic: letter for letter, cyrillic in LOOK_ALIKES.items()}
    name = "".join(latin.get(c, c) for c in name.strip().casefold())
    return name


@st.composite
def decisions(
    draw: st.DrawFn, approval_ids: tuple[str, ...] = (APPROVAL, APPROVAL, OTHER_APPROVAL)
) -> Decision:
    """A decision of one of the pool's deciders, mostly for ``APPROVAL``."""
    return Decision(
        approval_id=draw(st.sampled_from(approval_ids)),
        approved=draw(st.booleans()),
        decided_by=draw(spellings()),
        comment=draw(st.none() | st.sampled_from(("ok", "no"))),
        source=draw(st.sampled_from(list(DecisionSource))),
    )


def json_key(value: Any) -> Any:
    """``value`` as a hashable tree in which two values are equal exactly when they are the
    same JSON value (``1`` and ``1.0`` are one number; ``True`` is not ``1``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, list):
        return ("array", tuple(json_key(item) for item in value))
    return ("object", frozenset((key, json_key(item)) for key, item in value.items()))
