"""The fault-suite command runs on the real platform: nothing lost, duplicated or hung."""

from tests.faults import main


async def test_fault_command_counts_no_loss(capsys):
    assert await main(1) == 0
    table = capsys.readouterr().out
    assert "| platform 5xx burst" in table
    assert "| reply slower than client timeout" in table
    assert "| two different decisions race" in table
