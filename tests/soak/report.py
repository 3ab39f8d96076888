"""The soak's table: approvals by policy, way and outcome, faults by kind, invariants."""

from __future__ import annotations

from collections import Counter

from tests.soak.checks import Findings
from tests.soak.plans import POLICIES, TIMINGS, WAYS

INVARIANTS = (
    "lost",
    "duplicated",
    "hung",
    "two-outcomes",
    "wrong-outcome",
    "audit-mismatch",
    "unreplayable",
    "chain",
    "tracebacks",
)
OUTCOME_COLUMNS = ("granted", "denied", "timeout", "cancelled")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append(
            "| "
            + " | ".join(
                c.rjust(w) if c.isdigit() else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
            + " |"
        )
    return lines


def render(findings: Findings, faults: Counter[str], tracebacks: int, allowed: Counter[str]) -> str:
    """The three tables (markdown), then the allowed noise counted."""
    by: Counter[tuple[str, str, str, str]] = Counter()
    for judged in findings.judged:
        plan = judged.approval.plan
        outcome = judged.outcome if judged.outcome in OUTCOME_COLUMNS else "other"
        by[plan.policy, plan.way, plan.timing, outcome] += 1
    rows: list[list[object]] = []
    for policy in POLICIES:
        for way in WAYS:
            for timing in TIMINGS:
                counts = [by[policy, way, timing, o] for o in (*OUTCOME_COLUMNS, "other")]
                if any(counts):
                    rows.append([policy, way, timing, *counts])
    rows.append(
        ["all", "", "", *[sum(by[k] for k in by if k[3] == o) for o in (*OUTCOME_COLUMNS, "other")]]
    )
    lines = _table(["policy", "way", "decided", *OUTCOME_COLUMNS, "other"], rows)
    lines += ["", *_table(["fault", "injected"], [[k, v] for k, v in faults.most_common()])]
    broken = findings.counts()
    broken["tracebacks"] = tracebacks
    lines += ["", *_table(list(INVARIANTS), [[broken[i] for i in INVARIANTS]])]
    extra = [
        f"known nondeterminism (record_decision vs write_audit, counted, not failing): "
        f"{len(findings.known_nondeterminism)}"
    ]
    extra += [f"tolerated on request ({kind}): {n}" for kind, n in findings.tolerated().items()]
    extra += [f"allowed noise: {n} x {pattern}" for pattern, n in allowed.most_common()]
    return "\n".join([*lines, "", *extra])


def details(findings: Findings) -> list[str]:
    """One line per broken invariant of an approval, for the log and the failure message."""
    out = []
    for judged in findings.judged:
        for invariant, problems in judged.problems.items():
            for problem in problems:
                a = judged.approval
                sent = [(t.way, t.decided_by, t.approved, t.answer) for t in a.attempts]
                out.append(
                    f"{invariant}: {a.workflow_id} [{a.plan.mode}] {a.plan.action}"
                    f" {a.plan.timing} sent={sent}: {problem}"
                )
    out += [f"unreplayable: {f}" for f in findings.unreplayable]
    out += [f"known nondeterminism: {f}" for f in findings.known_nondeterminism]
    out += [
        f"chain [{mode}]: {summary}" for mode, summary in findings.chains.items() if summary != "ok"
    ]
    return out
