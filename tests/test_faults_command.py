"""The fault-suite command: its table, its exit status, its arguments.

The crash and restart sections run the same code as tests/test_crash_stages.py
and tests/test_server_restart.py, which assert their counts; here only the
fast platform and websocket sections run, through ``main``, in both platform
modes (one set of lost/duplicated/hung columns per mode).
"""

import pytest

from tests.faults import SECTIONS, _arguments, main, print_table
from tests.helpers import PLATFORM_MODES
from tests.ws_faults import WS_FAULTS

HEADER = [
    "fault",
    "runs",
    "reference lost",
    "reference duplicated",
    "reference hung",
    "strict lost",
    "strict duplicated",
    "strict hung",
]


def table_rows(out: str) -> tuple[list[str], dict[str, list[int]]]:
    lines = out.splitlines()
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    rows = {
        cells[0].strip(): [int(cell) for cell in cells[1:]]
        for cells in (line.split("|")[1:-1] for line in lines[2:] if line.startswith("| "))
    }
    return header, rows


async def test_fault_command_counts_no_loss_on_either_platform(capsys):
    assert await main(1, ["platform"]) == 0
    header, rows = table_rows(capsys.readouterr().out)
    assert header == HEADER
    assert rows == {
        name: [1] + [0] * 6  # runs, then lost/duplicated/hung per mode
        for name in (
            "platform 5xx burst (JSON or HTML body)",
            "reply slower than client timeout",
            "platform connection refused",
            "two different decisions race",
        )
    }


async def test_websocket_section_counts_real_approvals_through_a_worker(capsys):
    assert await main(1, ["websocket"]) == 0
    header, rows = table_rows(capsys.readouterr().out)
    assert header == HEADER
    assert rows == {name: [1] + [0] * 6 for name in WS_FAULTS}


def test_the_table_has_a_column_set_per_platform_and_fails_on_any(capsys):
    print_table([("a fault", 2, {"reference": (0, 0, 0), "strict": (1, 2, 0)})])
    header, rows = table_rows(capsys.readouterr().out)
    assert header == HEADER
    assert rows == {"a fault": [2, 0, 0, 0, 1, 2, 0]}


def test_arguments_pick_runs_sections_and_platforms():
    both = list(PLATFORM_MODES)
    assert _arguments([]) == (3, list(SECTIONS), both)
    assert _arguments(["2", "--only", "crash,restart"]) == (2, ["crash", "restart"], both)
    assert _arguments(["--only", "websocket"]) == (3, ["websocket"], both)
    assert _arguments(["--platforms", "strict"]) == (3, list(SECTIONS), ["strict"])
    with pytest.raises(SystemExit):
        _arguments(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        _arguments(["0"])
    with pytest.raises(SystemExit):
        _arguments(["--platforms", "upstream"])
