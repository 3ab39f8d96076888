"""Histories recorded by the tests replay against today's workflow code.

A change that would break workflows already running (a command added, removed
or reordered) fails here. Until the first release a deliberate change re-records
the baseline set (docs/testing.md, "Replay histories"); from then on it is guarded with
``workflow.patched`` and recorded as a new set beside the old ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from durable_approvals.converter import data_converter
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import HISTORIES_DIR
from tests.replay_mutant import ReorderedApprovalWorkflow

MIN_RECORDED = 12
FEATURE_SETS = ["channels", "deadline", "edits", "escalation", "n-of-m", "update", "votes-hash"]
"""Sets recorded by a feature's own tests, beside ``baseline`` (docs/testing.md)."""


async def recorded_histories(pattern: str = "*/*") -> AsyncIterator[WorkflowHistory]:
    for path in sorted(HISTORIES_DIR.glob(f"{pattern}.json")):
        yield WorkflowHistory.from_json(
            f"{path.parent.name}/{path.stem}", path.read_text(encoding="utf-8")
        )


async def replay_failures(workflow_class: type[Any], pattern: str = "*/*") -> dict[str, str]:
    replayer = Replayer(workflows=[workflow_class], data_converter=data_converter)
    results = await replayer.replay_workflows(
        recorded_histories(pattern), raise_on_replay_failure=False
    )
    return {run_id: str(error) for run_id, error in results.replay_failures.items() if error}


async def test_recorded_histories_replay_without_nondeterminism():
    assert len(list(HISTORIES_DIR.glob("*/*.json"))) >= MIN_RECORDED, (
        "histories are missing: record them (docs/testing.md)"
    )
    assert await replay_failures(ApprovalWorkflow) == {}


async def test_a_changed_workflow_fails_replay():
    """The guard has teeth: the same histories reject a reordered workflow."""
    failures = await replay_failures(ReorderedApprovalWorkflow)
    assert len(failures) == len(list(HISTORIES_DIR.glob("*/*.json")))
    assert all("nondetermin" in message.lower() for message in failures.values()), failures


@pytest.mark.parametrize("history_set", FEATURE_SETS)
async def test_a_feature_set_replays(history_set):
    assert list(HISTORIES_DIR.glob(f"{history_set}/*.json")), f"record {history_set}"
    assert await replay_failures(ApprovalWorkflow, f"{history_set}/*") == {}
