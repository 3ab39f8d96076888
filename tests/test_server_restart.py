"""The dev server goes down and comes back on the same SQLite file while approvals
wait (see tests/server_restart.py): every one completes with its decision, once,
whichever platform mode serves the worker."""

from __future__ import annotations

import pytest

from tests.helpers import PLATFORM_MODES
from tests.server_restart import run_restart


@pytest.mark.parametrize("mode", PLATFORM_MODES)
async def test_pending_approvals_complete_after_a_server_restart(tmp_path, mode):
    _, runs, lost, duplicated, hung, details = await run_restart(
        tmp_path, approvals=4, platform_mode=mode
    )
    assert details == []
    assert (runs, lost, duplicated, hung) == (4, 0, 0, 0)
