"""Histories recorded by the tests replay against today's workflow code.

A change that would break workflows already running (a command added, removed
or reordered) fails here. Until the first release a deliberate change re-records
the baseline set (docs/testing.md, "Replay histories"); from then on it is guarded with
``workflow.patched`` and recorded as a new set beside the old ones (docs/upgrading.md).

A set is any folder under ``tests/histories`` that holds ``*.json`` files, at any depth
(``baseline``, ``release-1.0/baseline``): every one found is replayed on its own, so a
set recorded for a release never silently stops being checked. The sets the tests record
(``tests/history_sets.py``) must exist (at the top level or in a release folder), and
every release folder must hold all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from durable_approvals.converter import data_converter
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import HISTORIES_DIR
from tests.history_sets import HISTORY_SETS
from tests.replay_mutant import ClockReadingApprovalWorkflow, ReorderedApprovalWorkflow

MIN_RECORDED = 12
FEATURE_SETS = [name for name in HISTORY_SETS if name != "baseline"]
"""Sets recorded by a feature's own tests, beside ``baseline`` (docs/testing.md)."""


def set_folders(root: Path = HISTORIES_DIR) -> list[str]:
    """Every folder under ``root`` holding histories, as a path relative to ``root``."""
    folders = {path.parent.relative_to(root).as_posix() for path in root.rglob("*.json")}
    return sorted(folders)


def release_folders(root: Path = HISTORIES_DIR) -> list[str]:
    """Folders whose sets are one level down (``release-1.0``): the sets of one release."""
    return sorted({Path(name).parent.as_posix() for name in set_folders(root) if "/" in name})


def history_files(folder: str | None = None) -> list[Path]:
    if folder is None:
        return sorted(HISTORIES_DIR.rglob("*.json"))
    return sorted((HISTORIES_DIR / folder).glob("*.json"))


async def recorded_histories(paths: list[Path]) -> AsyncIterator[WorkflowHistory]:
    for path in paths:
        name = path.relative_to(HISTORIES_DIR).with_suffix("").as_posix()
        yield WorkflowHistory.from_json(name, path.read_text(encoding="utf-8"))


async def replay_failures(workflow_class: type[Any], paths: list[Path]) -> dict[str, str]:
    replayer = Replayer(workflows=[workflow_class], data_converter=data_converter)
    results = await replayer.replay_workflows(
        recorded_histories(paths), raise_on_replay_failure=False
    )
    return {run_id: str(error) for run_id, error in results.replay_failures.items() if error}


async def test_recorded_histories_replay_without_nondeterminism():
    assert len(history_files()) >= MIN_RECORDED, (
        "histories are missing: record them (docs/testing.md)"
    )
    assert await replay_failures(ApprovalWorkflow, history_files()) == {}


async def test_a_changed_workflow_fails_replay():
    """The guard has teeth: the same histories reject a reordered workflow."""
    failures = await replay_failures(ReorderedApprovalWorkflow, history_files())
    runs = {history.run_id async for history in recorded_histories(history_files())}
    assert len(failures) == len(runs)  # keyed by run: a set copied into a release is one
    assert all("nondetermin" in message.lower() for message in failures.values()), failures


@pytest.mark.parametrize("history_set", set_folders())
async def test_a_set_replays(history_set):
    assert await replay_failures(ApprovalWorkflow, history_files(history_set)) == {}


@pytest.mark.parametrize("history_set", list(HISTORY_SETS))
def test_every_recorded_set_is_there(history_set):
    """At the top level or in a release folder (``release-1.0/<set>``)."""
    found = [f for f in set_folders() if Path(f).name == history_set]
    assert found, f"record {history_set}: scripts/record_histories.sh"


def test_every_release_folder_holds_every_set():
    missing = {
        release: sorted(set(HISTORY_SETS) - sets_of(release)) for release in release_folders()
    }
    assert {r: m for r, m in missing.items() if m} == {}, "record them: scripts/record_histories.sh"


def sets_of(release: str) -> set[str]:
    return {Path(f).name for f in set_folders() if Path(f).parent.as_posix() == release}


def test_sets_are_found_at_any_depth(tmp_path):
    """A release layout is seen: its sets, and the release they belong to."""
    for folder in ("baseline", "release-1.0/baseline", "release-1.0/agents"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "run.json").write_text("{}", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    assert set_folders(tmp_path) == ["baseline", "release-1.0/agents", "release-1.0/baseline"]
    assert release_folders(tmp_path) == ["release-1.0"]


async def test_a_restricted_call_in_the_workflow_module_fails_replay():
    """The replay keeps the sandbox's restrictions on the workflow's own module, which the
    worker passes through (durable_approvals/sandbox.py): a clock read there fails here."""
    paths = history_files("release-1.0/baseline")
    failures = await replay_failures(ClockReadingApprovalWorkflow, paths)
    runs = {history.run_id async for history in recorded_histories(paths)}
    assert set(failures) == runs
    assert all("time.time" in message for message in failures.values()), failures
