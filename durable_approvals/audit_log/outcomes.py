"""One outcome per approval: the first record that ends an approval a second time
(docs/audit.md, "Two outcomes for one approval").

A stale workflow task (its worker paused past the task timeout) can still run its side
effects: its ``timeout`` record has another event id than the ``decided`` record of the
task that completed the run, so the writer's dedup cannot catch it, and the chain holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_approvals.audit_log.files import read_shared
from durable_approvals.audit_log.record import parse_line
from durable_approvals.audit_log.report import TWO_OUTCOMES, ChainProblem
from durable_approvals.models import AuditOutcome

ENDING_OUTCOMES = frozenset(
    outcome.value
    for outcome in (
        AuditOutcome.GRANTED,
        AuditOutcome.DENIED,
        AuditOutcome.TIMEOUT,
        AuditOutcome.CANCELLED,
        AuditOutcome.FAILURE,
    )
)
"""The ``outcome`` of a record that ends an approval (a run writes one)."""


@dataclass(frozen=True)
class _Ending:
    path: Path
    line: int
    outcome: str


def approval_keys(record: dict[str, Any]) -> list[str]:
    """What names the approval a record is about: its ``approval_id`` and its workflow
    run (the ``event_id`` without its last step, ``<workflow id>/<run id>``)."""
    keys = []
    approval_id = record.get("approval_id")
    if isinstance(approval_id, str) and approval_id:
        keys.append(f"approval {approval_id}")
    event_id = record.get("event_id")
    if isinstance(event_id, str) and "/" in event_id:
        keys.append(f"run {event_id.rsplit('/', 1)[0]}")
    return keys


def second_outcome(paths: Iterable[Path]) -> ChainProblem | None:
    """The first record, over ``paths`` in order, that ends an approval (same approval id
    or same run) already ended by an earlier record; ``None`` if there is none.

    Raises:
        OSError: a file cannot be read.
    """
    ended: dict[str, _Ending] = {}
    for path in paths:
        for number, raw in enumerate(read_shared(path).split(b"\n"), start=1):
            record = parse_line(raw)
            if record is None or record.get("outcome") not in ENDING_OUTCOMES:
                continue
            keys = approval_keys(record)
            outcome = str(record["outcome"])
            for key in keys:
                first = ended.get(key)
                if first is not None:
                    where = f"line {first.line}"
                    if first.path != path:
                        where += f" of {first.path.name}"
                    detail = (
                        f"{key} already ended {first.outcome} on {where}; "
                        f"this record says {outcome}"
                    )
                    return ChainProblem(path=path, line=number, kind=TWO_OUTCOMES, detail=detail)
            for key in keys:
                ended[key] = _Ending(path=path, line=number, outcome=outcome)
    return None


__all__ = ["ENDING_OUTCOMES", "approval_keys", "second_outcome"]
