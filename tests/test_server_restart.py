"""The dev server goes down and comes back on the same SQLite file while approvals
wait (see tests/server_restart.py): every one completes with its decision, once."""

from __future__ import annotations

from tests.server_restart import run_restart


async def test_pending_approvals_complete_after_a_server_restart(tmp_path):
    _, runs, lost, duplicated, hung, details = await run_restart(tmp_path, approvals=4)
    assert details == []
    assert (runs, lost, duplicated, hung) == (4, 0, 0, 0)
