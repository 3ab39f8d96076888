"""The owner of a new approval, from the platform's ``APPROVAL_REQUESTED`` event.

The create activity ends the ``task_id`` it sends with ``#`` and the workflow's id
(``platform_http.marked_task_id``); the platform echoes the ``task_id`` in the
``APPROVAL_REQUESTED`` event (upstream contract), so the listener knows an
approval's workflow before any decision on it, without a look-up in visibility.
A hint is only taken for this workspace's own events and for an approval workflow
id of this workspace; a wrong one costs a refused signal, never a wrong decision
(the workflow refuses a decision for another approval id). docs/waiting-path.md.
"""

from __future__ import annotations

import json

from durable_approvals.models import approval_workflow_id, is_identifier

REQUESTED_EVENT = "APPROVAL_REQUESTED"


def requested_owner(frame: str | bytes, workspace_id: str) -> tuple[str, str] | None:
    """``(approval_id, workflow_id)`` named by an ``APPROVAL_REQUESTED`` frame of
    ``workspace_id`` whose ``task_id`` ends with one of its approval workflow ids; else
    ``None`` (any other frame, another workspace's, a task id without an owner)."""
    named = (
        REQUESTED_EVENT.encode() in frame if isinstance(frame, bytes) else REQUESTED_EVENT in frame
    )
    if not named:  # most frames: no parse
        return None
    try:
        event = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(event, dict) or event.get("event") != REQUESTED_EVENT:
        return None
    if event.get("workspace_id") != workspace_id:
        return None
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return None
    approval_id, task_id = payload.get("approval_id"), payload.get("task_id")
    if not is_identifier(approval_id) or not isinstance(task_id, str):
        return None
    workflow_id = task_id.rpartition("#")[2]
    prefix = approval_workflow_id(workspace_id, "")
    if "#" not in task_id or not workflow_id.startswith(prefix) or not is_identifier(workflow_id):
        return None
    return approval_id, workflow_id
