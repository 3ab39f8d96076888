"""The fault-suite command: its table, its exit status, its arguments.

The crash and restart sections run the same code as tests/test_crash_stages.py
and tests/test_server_restart.py, which assert their counts; here only the
fast platform and websocket sections run, through ``main``.
"""

import pytest

from tests.faults import SECTIONS, _arguments, main
from tests.ws_faults import WS_FAULTS


async def test_fault_command_counts_no_loss(capsys):
    assert await main(1, ["platform"]) == 0
    table = capsys.readouterr().out
    header = [cell.strip() for cell in table.splitlines()[0].split("|")[1:-1]]
    assert header == ["fault", "runs", "lost", "duplicated", "hung"]
    assert "| platform 5xx burst (JSON or HTML body)" in table
    assert "| platform connection refused" in table
    assert "| reply slower than client timeout" in table
    assert "| two different decisions race" in table


async def test_websocket_section_counts_real_approvals_through_a_worker(capsys):
    assert await main(1, ["websocket"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {
        cells[0].strip(): [int(cell) for cell in cells[1:]]
        for cells in (line.split("|")[1:-1] for line in lines[2:] if line.startswith("| "))
    }
    assert rows == {name: [1, 0, 0, 0] for name in WS_FAULTS}  # runs, lost, duplicated, hung


def test_arguments_pick_runs_and_sections():
    assert _arguments([]) == (3, list(SECTIONS))
    assert _arguments(["2", "--only", "crash,restart"]) == (2, ["crash", "restart"])
    assert _arguments(["--only", "websocket"]) == (3, ["websocket"])
    with pytest.raises(SystemExit):
        _arguments(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        _arguments(["0"])
