"""Promise 1 at every lifecycle stage (see tests/crash_stages.py): SIGKILL, restart,
and the human's decision still comes back once, audited once, with one request; the
audit file the killed workers shared still verifies as one chain (docs/audit.md).

Against both platform modes: on the strict one (the upstream contract) a re-run
create can count on no Idempotency-Key, only on its ``task_id`` marker. One run
per stage there, to keep the suite short: ``python -m tests.faults`` runs more, and
tests/test_upstream_promises.py has the create stage on its own.
"""

from __future__ import annotations

import pytest

from durable_approvals.audit_log import verify_chain
from tests.crash_stages import run_stages

RUNS = {"reference": 2, "strict": 1}


@pytest.mark.platform_modes("reference", "strict")
async def test_sigkill_at_every_stage_loses_and_duplicates_nothing(
    dev_env, settings, tmp_path, platform_mode
):
    rows = await run_stages(dev_env.client, settings, tmp_path, runs=RUNS[platform_mode])
    problems = [detail for row in rows for detail in row[5]]
    assert problems == []
    assert [row[2:5] for row in rows] == [(0, 0, 0)] * len(rows)
    chain = verify_chain(settings.audit_log_path)
    assert chain.ok and chain.records >= 2 * len(rows), chain.summary()
