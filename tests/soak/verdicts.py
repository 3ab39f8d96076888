"""The right outcome of one approval, from what was made and when (history, platform):
its first valid decision made before the deadline in force, the tally of its votes made
before it, the timeout, or its cancellation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tests.soak.history import Facts
from tests.soak.ways import Attempt


@dataclass(frozen=True)
class Made:
    """A decision of the plan, and when it was made (its earliest proof)."""

    decided_by: str
    approved: bool
    at: datetime
    from_history: bool


def made_decisions(
    attempts: list[Attempt], found: Facts, row: dict[str, str | None] | None
) -> list[Made]:
    """Each decider's decision with its earliest proof: its arrival in the history, or the
    platform's ``decided_at`` when the platform holds it under that name."""
    made = []
    for attempt in attempts:
        if attempt.way == "cancel":
            continue
        times = [
            (a.at, True)
            for a in found.arrivals
            if a.decided_by == attempt.decided_by and a.approved == attempt.approved
        ]
        if row and row.get("decided_by") == attempt.decided_by and row.get("decided_at"):
            status = "approved" if attempt.approved else "denied"
            if row.get("status") == status:
                stamp = str(row["decided_at"]).replace("Z", "+00:00")
                times.append((datetime.fromisoformat(stamp), False))
        if times:
            at, from_history = min(times)
            made.append(Made(attempt.decided_by, attempt.approved, at, from_history))
    return sorted(made, key=lambda m: m.at)


def tally(in_time: list[Made], required: int) -> tuple[str, str | None]:
    """Votes in the order they were made: the first denial denies, the ``required``-th
    distinct approver grants, else the timeout."""
    approvers: list[str] = []
    for vote in in_time:
        if not vote.approved:
            return "denied", vote.decided_by
        if vote.decided_by not in approvers:
            approvers.append(vote.decided_by)
        if len(approvers) == required:
            return "granted", vote.decided_by
    return "timeout", None


def outcome_problems(
    status: str,
    decided_by: str | None,
    made: list[Made],
    deadline: datetime,
    *,
    required: int,
    cancel_at: datetime | None,
) -> list[str]:
    """Why ``status`` (by ``decided_by``) is not a right outcome; empty when it is."""
    in_time = [m for m in made if m.at < deadline]
    if status == "cancelled":
        if cancel_at is None:
            return ["cancelled, but no cancellation reached it"]
        early = [m for m in in_time if m.at < cancel_at]
        return [f"cancelled over a decision made before: {early[0]}"] if early else []
    if cancel_at is not None and cancel_at < deadline and not in_time:
        return [f"{status}, but a cancellation arrived at {cancel_at} before {deadline}"]
    if required > 1:
        expected, _ = tally(in_time, required)
        return [] if status == expected else [f"{status}, votes in time say {expected}: {in_time}"]
    if status == "timeout":
        return [f"timed out over {in_time[0]} (deadline {deadline})"] if in_time else []
    if status not in ("granted", "denied"):
        return [f"ended {status}"]
    taken = [m for m in in_time if m.decided_by == decided_by]
    if not taken or taken[0].approved != (status == "granted"):
        late = [m for m in made if m.decided_by == decided_by]
        return [f"{status} by {decided_by} (made {late}), not one made before {deadline}"]
    if all(m.from_history for m in in_time) and in_time[0].decided_by != decided_by:
        return [f"{status} by {decided_by}, but {in_time[0]} reached it first"]
    return []
