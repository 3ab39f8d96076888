"""Decisions reach their workflows, once each, while the platform's WebSocket misbehaves.

Real dev server, real in-process worker, real platform on 127.0.0.1. Each
approval is decided only once the workspace listener has caught up (see
tests/ws_faults.py), so the decision has to come through the faulty socket
itself, through the listener's catch-up after a reconnect, or through its
reconciliation of a silent socket; the approval's own timer (120 s) is far
beyond the bound (20 s), so it cannot stand in for a lost decision.
"""

from __future__ import annotations

from durable_approvals.models import ApprovalStatus, DecisionSource
from tests.ws_faults import WS_FAULTS, ApprovalRun, run_under_fault

APPROVALS_PER_FAULT = 5


def assert_each_decision_arrived_once(runs: list[ApprovalRun]) -> None:
    for run in runs:
        assert run.result is not None, f"{run.approval_id} hung"
        expected = ApprovalStatus.GRANTED if run.approved else ApprovalStatus.DENIED
        assert (run.result.status, run.result.decided_by) == (expected, run.decided_by)
        assert run.audited == ("requested", expected.value), run.audited
    assert [(r.lost, r.duplicated, r.hung) for r in runs] == [(False, False, False)] * len(runs)


def paths(runs: list[ApprovalRun]) -> set[str]:
    return {via for run in runs for via in run.via}


async def test_socket_dropped_every_half_second(dev_env, settings, platform):
    inject = WS_FAULTS["socket dropped every 0.5 s"]
    runs = await run_under_fault(dev_env.client, settings, platform, inject, APPROVALS_PER_FAULT)
    assert_each_decision_arrived_once(runs)
    assert platform.faults.counts.timed_drops >= 1  # the fault did fire
    # the socket between drops, or the catch-up pass after each reconnect
    assert paths(runs) <= {DecisionSource.WEBSOCKET.value, DecisionSource.CATCH_UP.value}


async def test_garbage_frames_between_the_events(dev_env, settings, platform):
    """The events themselves still come through: small garbage around them is skipped,
    not a reason to drop the socket and fall back on reads. (The oversized frame, before
    every 5th event, does close the socket: the catch-up after the reconnect finds that
    event.)"""
    inject = WS_FAULTS["garbage frames on the socket"]
    runs = await run_under_fault(dev_env.client, settings, platform, inject, APPROVALS_PER_FAULT)
    assert_each_decision_arrived_once(runs)
    assert platform.faults.counts.garbage_frames >= 1
    assert DecisionSource.WEBSOCKET.value in paths(runs)
    assert paths(runs) <= {DecisionSource.WEBSOCKET.value, DecisionSource.CATCH_UP.value}


async def test_silent_socket_that_answers_pings(dev_env, settings, platform):
    """Fails without the listener's reconciliation: every decision waits for the timer."""
    inject = WS_FAULTS["silent socket (pings answered)"]
    runs = await run_under_fault(dev_env.client, settings, platform, inject, APPROVALS_PER_FAULT)
    assert_each_decision_arrived_once(runs)
    assert platform.faults.counts.silenced_messages >= APPROVALS_PER_FAULT
    assert paths(runs) == {DecisionSource.CATCH_UP.value}  # read by the reconciliation
