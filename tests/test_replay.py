"""Histories recorded by the tests replay against today's workflow code.

A change that would break workflows already running in production (a command
added, removed or reordered without ``workflow.patched``) fails here. Re-record
after a deliberate, patched change with ``RECORD_HISTORIES=<new set>`` (see README).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from approvals.converter import data_converter
from tests.helpers import HISTORIES_DIR
from tests.replay_mutant import (
    ReorderedApprovalWorkflow,
    UnguardedCancelDuringCreateWorkflow,
    UnguardedClientDecisionWorkflow,
    UnguardedNoFallbackWorkflow,
    UnguardedSelfApprovalWorkflow,
)
from workflows.approval import ApprovalWorkflow

MIN_RECORDED = 8


SELF_APPROVAL_BEFORE_PATCH = "v2-local-audit/self_approval_taken_before_refusal"
"""Recorded by the workflow from before ``refuse-self-approval``: the requester's signal won."""


CANCEL_DURING_CREATE_BEFORE_PATCH = "v3-self-approval/cancelled_during_create_before_patch"
"""Recorded by the workflow from before ``expire-when-cancelled-during-create``: the
create was cancelled with the workflow, which returned a failure result."""


CLIENT_DECISION_BEFORE_PATCH = "v4-cancel-during-create/conflicting_signals"
"""Decided by signal before ``record-client-decision-on-platform``: nothing was written."""


NO_FALLBACK_BEFORE_PATCH = "v5-client-decision-on-platform/decided_by_signal"
"""Decided by signal before ``no-poller-after-the-wait-ends``: a poller was started after
the listener's cancellation, and abandoned."""


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
        "histories are missing: record them (README)"
    )
    assert await replay_failures(ApprovalWorkflow) == {}


async def test_an_unpatched_change_fails_replay():
    """The guard has teeth: the same histories reject a reordered workflow."""
    failures = await replay_failures(ReorderedApprovalWorkflow)
    assert len(failures) == len(list(HISTORIES_DIR.glob("*/*.json")))
    assert all("nondetermin" in message.lower() for message in failures.values()), failures


async def test_the_self_approval_refusal_needs_its_patch():
    """A run from before the refusal, whose requester's decision won, replays only because
    the refusal asks ``workflow.patched``; refusing unconditionally breaks it."""
    assert (HISTORIES_DIR / f"{SELF_APPROVAL_BEFORE_PATCH}.json").exists()
    assert await replay_failures(ApprovalWorkflow, SELF_APPROVAL_BEFORE_PATCH) == {}
    failures = await replay_failures(UnguardedSelfApprovalWorkflow, SELF_APPROVAL_BEFORE_PATCH)
    assert len(failures) == 1
    assert all("nondetermin" in message.lower() for message in failures.values()), failures


async def test_the_shielded_create_needs_its_patch():
    """A run cancelled during its create before the shield existed replays only because
    the shield asks ``workflow.patched``; shielding unconditionally breaks it."""
    assert (HISTORIES_DIR / f"{CANCEL_DURING_CREATE_BEFORE_PATCH}.json").exists()
    assert await replay_failures(ApprovalWorkflow, CANCEL_DURING_CREATE_BEFORE_PATCH) == {}
    failures = await replay_failures(
        UnguardedCancelDuringCreateWorkflow, CANCEL_DURING_CREATE_BEFORE_PATCH
    )
    assert len(failures) == 1
    assert all("nondetermin" in message.lower() for message in failures.values()), failures


async def test_writing_a_signalled_decision_to_the_platform_needs_its_patch():
    assert (HISTORIES_DIR / f"{CLIENT_DECISION_BEFORE_PATCH}.json").exists()
    assert await replay_failures(ApprovalWorkflow, CLIENT_DECISION_BEFORE_PATCH) == {}
    failures = await replay_failures(UnguardedClientDecisionWorkflow, CLIENT_DECISION_BEFORE_PATCH)
    assert len(failures) == 1
    # The extra activity meets the history's cancel of the listener instead: the core
    # reports that mismatch as an invalid transition rather than by name.
    assert all(
        "nondetermin" in message.lower() or "transition is invalid" in message
        for message in failures.values()
    ), failures


async def test_not_polling_after_the_wait_ends_needs_its_patch():
    assert (HISTORIES_DIR / f"{NO_FALLBACK_BEFORE_PATCH}.json").exists()
    assert await replay_failures(ApprovalWorkflow, NO_FALLBACK_BEFORE_PATCH) == {}
    failures = await replay_failures(UnguardedNoFallbackWorkflow, NO_FALLBACK_BEFORE_PATCH)
    assert len(failures) == 1
    assert all("nondetermin" in message.lower() for message in failures.values()), failures
