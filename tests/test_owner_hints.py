"""The listener learns a new approval's workflow from ``APPROVAL_REQUESTED``
(activities/owner_hints.py): only its own workspace's events, only this workspace's
approval workflow ids, and the ``task_id`` the create activity sends."""

from __future__ import annotations

import json

import pytest

from durable_approvals.activities.owner_hints import requested_owner
from durable_approvals.activities.platform_http import marked_task_id
from durable_approvals.models import approval_workflow_id

WS = "ws-1"
APPROVAL = "0b5f3c1e-8f0e-4a57-9a53-2f7c3b1d9e10"
OWNER = approval_workflow_id(WS, "key-1")


def frame(task_id: object, workspace_id: str = WS, event: str = "APPROVAL_REQUESTED") -> str:
    payload = {"approval_id": APPROVAL, "action": "a", "reason": None, "task_id": task_id}
    return json.dumps({"event": event, "workspace_id": workspace_id, "payload": payload})


@pytest.mark.parametrize("agent_task", [None, "task-7"])
def test_the_created_task_id_names_its_workflow(agent_task: str | None) -> None:
    task_id = marked_task_id(agent_task, f"{OWNER}/run-1", OWNER)
    assert requested_owner(frame(task_id), WS) == (APPROVAL, OWNER)
    assert requested_owner(frame(task_id).encode(), WS) == (APPROVAL, OWNER)


def test_the_marker_alone_stays_as_it_was_without_a_usable_workflow_id() -> None:
    assert marked_task_id("task-7", "k", "") == marked_task_id("task-7", "k")
    assert "#" not in marked_task_id(None, "k", "not an identifier")


@pytest.mark.parametrize(
    "text",
    [
        frame(f"abc#{OWNER}", workspace_id="ws-2"),  # a related workspace's event
        frame(f"abc#{approval_workflow_id('ws-2', 'k')}"),  # another workspace's workflow
        frame("abc#some-other-workflow"),
        frame(OWNER),  # no marker before it: an agent's own task id
        frame(None),
        frame(f"abc#{OWNER}", event="APPROVAL_APPROVED"),
        "APPROVAL_REQUESTED but not JSON",
    ],
)
def test_nothing_is_learned_from_other_frames(text: str) -> None:
    assert requested_owner(text, WS) is None
