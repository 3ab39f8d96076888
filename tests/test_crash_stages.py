"""Promise 1 at every lifecycle stage (see tests/crash_stages.py): SIGKILL, restart,
and the human's decision still comes back once, audited once, with one request."""

from __future__ import annotations

from tests.crash_stages import run_stages


async def test_sigkill_at_every_stage_loses_and_duplicates_nothing(dev_env, settings, tmp_path):
    rows = await run_stages(dev_env.client, settings, tmp_path, runs=2)
    problems = [detail for row in rows for detail in row[5]]
    assert problems == []
    assert [row[2:5] for row in rows] == [(0, 0, 0)] * len(rows)
