"""What verifying an audit file finds: the problem kinds, the first problem, the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
TRUNCATED = "truncated"
NOT_JSON = "not-json"
UNCHAINED = "unchained"
TWO_OUTCOMES = "two-outcomes"
"""Not a broken chain: two records end one approval (``outcomes.second_outcome``)."""
PROBLEM_KINDS = (
    EDITED,
    DELETED,
    INSERTED,
    REORDERED,
    TRUNCATED,
    NOT_JSON,
    UNCHAINED,
    TWO_OUTCOMES,
)


@dataclass(frozen=True)
class ChainProblem:
    """The first line that breaks the chain, or ends an approval a second time, and how
    (one of ``PROBLEM_KINDS``)."""

    path: Path
    line: int
    kind: str
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found in one file (or in the previous file it was asked to
    follow, when that one is already broken)."""

    path: Path
    records: int
    """Chained records checked (up to the problem, if any)."""
    last_hash: str
    """The ``record_hash`` of the last chained record: the value to anchor elsewhere."""
    unchained: int = 0
    """Records without hashes before the chain starts (files from before the chain)."""
    first_chained_line: int | None = None
    follows: str | None = None
    """The archive a rotation's ``chain_start`` names, if the file starts with one."""
    follows_checked: bool = False
    """Whether the link to the previous file was checked (``--follows``)."""
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line: ``OK ...``, or ``TAMPERED <path> line <n>: <kind>: <detail>``
        (``INCONSISTENT`` for ``two-outcomes``: the chain holds, the records do not)."""
        if self.problem is not None:
            p = self.problem
            verdict = "INCONSISTENT" if p.kind == TWO_OUTCOMES else "TAMPERED"
            return f"{verdict} {p.path} line {p.line}: {p.kind}: {p.detail}"
        text = f"OK {self.path}: {self.records} records, last hash {self.last_hash}"
        if self.follows is not None or self.follows_checked:
            how = "checked" if self.follows_checked else "not checked: pass --follows"
            text += f"; continues from {self.follows or 'the previous file'} ({how})"
        if self.unchained:
            where = self.first_chained_line or self.unchained + 1
            text += (
                f"; WARNING {self.unchained} unchained records before line {where} "
                "(written before the chain, not protected)"
            )
        return text


__all__ = [
    "DELETED",
    "EDITED",
    "INSERTED",
    "NOT_JSON",
    "PROBLEM_KINDS",
    "REORDERED",
    "TRUNCATED",
    "TWO_OUTCOMES",
    "UNCHAINED",
    "ChainProblem",
    "ChainReport",
]
