"""Burst: N requests started at once on one worker; all must wait, then all be decided.

Every start is issued at once (no client-side limit); a start call that fails
(an RPC timeout while the server admits the others) is retried with the same
workflow id, which attaches to a run it may already have made, as an agent's
retry would. Then: how many failed (a start still refused after the retries,
or a workflow that closed before any decision, counted by visibility), how many
wait (``requested`` audited) and how soon; then every waiting request is
approved on the platform, and each agent's result is checked against the
decision made for it (lost = any other result).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

from bench.audit_watch import AuditTail
from bench.driving import (
    ATTEMPTS,
    closed_approvals,
    count,
    decide_all,
    ids,
    last_close,
    outcomes,
    start_all,
    start_approval,
    wait_steady,
)
from bench.processes import Stack, wait_websockets
from bench.report import table, verdict

STALL = 120.0  # seconds without progress after which a phase is declared stuck


def _kinds(errors: Counter[str]) -> str:
    return "; ".join(f"{n} of {kind}" for kind, n in errors.most_common(3)) or "none"


def _seen(tail: AuditTail, wanted: set[str], decided: bool) -> int:
    tail.read()
    return len(wanted & (tail.decided if decided else tail.requested).keys())


async def run(stack: Stack, total: int) -> str:
    stack.start_worker()
    await wait_websockets(stack, 1, limit=60)
    tail = AuditTail(stack.audit_path)
    workflow_ids = ids("burst", total)
    wanted = set(workflow_ids)

    began = time.monotonic()
    starts = await start_all(stack, start_approval, workflow_ids)
    _, waiting = await wait_steady(
        lambda: _seen(tail, wanted, decided=False), total, stall=STALL, limit=3600
    )
    seen = [t for (w, o), t in tail.first_seen.items() if o == "requested" and w in wanted]
    to_waiting = max(seen, default=began) - began
    failed = await count(stack, closed_approvals())  # closed before any decision was made

    waiting_ids = [w for w in workflow_ids if w in tail.requested]
    since = datetime.now(UTC)
    deciding = await decide_all(stack, tail, waiting_ids, "burst")
    _, decided = await wait_steady(
        lambda: _seen(tail, set(waiting_ids), decided=True),
        len(waiting_ids),
        stall=STALL,
        limit=3600,
    )
    drained = await last_close(stack, waiting_ids, since)
    found = await outcomes(stack, waiting_ids, "burst")
    return table(
        f"burst: {total} requests at once on one worker",
        ["measure", "value", "seconds", "target", "met"],
        [
            [
                f"start calls retried (same id): {_kinds(starts.retried)}",
                starts.retried.total(),
                starts.seconds,
                "",
                "",
            ],
            [
                f"starts failed after {ATTEMPTS} attempts: {_kinds(starts.failed)}",
                starts.failed.total(),
                "",
                "0",
                verdict(not starts.failed),
            ],
            ["workflows failed before a decision", failed, "", "0", verdict(failed == 0)],
            [
                "waiting (requested audited)",
                waiting,
                to_waiting,
                f"all {total}",
                verdict(waiting == total),
            ],
            ["decisions made on the platform", len(waiting_ids), deciding, "", ""],
            [
                "agents resumed with their decision (seconds: first decision → last close)",
                found.resumed,
                drained,
                f"all {total}",
                verdict(found.resumed == total and decided == len(waiting_ids)),
            ],
            ["lost (another result, or none)", found.lost, "", "0", verdict(found.lost == 0)],
        ],
    )
