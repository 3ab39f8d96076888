"""Bad input is refused by the models before any workflow starts."""

import pytest
from pydantic import ValidationError

from durable_approvals.client import workflow_id_for
from durable_approvals.models import (
    ApprovalRequest,
    ApprovalResult,
    ApprovalStatus,
    Decision,
    is_identifier,
    require_identifier,
)

VALID = {"workspace_id": "ws-1", "action": "drop table users", "reason": "cleanup"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", ""),
        ("action", "   \t"),
        ("action", "x" * 501),
        ("action", "rm -rf /\x00"),
        ("reason", "y" * 4001),
        ("reason", "bell\x07"),
        ("timeout_seconds", 0),
        ("timeout_seconds", -5),
        ("timeout_seconds", 31 * 24 * 3600),
        ("workspace_id", ""),
        ("workspace_id", "../etc/passwd"),
        ("workspace_id", "a b"),
        ("idempotency_key", "key with spaces"),
        ("trace_id", "x" * 200),
    ],
)
def test_bad_request_fields_are_refused(field, value):
    with pytest.raises(ValidationError) as caught:
        ApprovalRequest(**{**VALID, field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_transport_fields_belong_to_the_listener_not_the_request():
    """The socket/polling choice is the workspace listener's (worker settings)."""
    for field, value in (("websocket", "false"), ("poll_interval_seconds", 1)):
        with pytest.raises(ValidationError, match=field):
            ApprovalRequest(**VALID, **{field: value})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        ApprovalRequest(**VALID, timout_seconds=3)


def test_multiline_reason_and_unicode_action_are_accepted():
    request = ApprovalRequest(**{**VALID, "action": "supprimer l'entrepôt", "reason": "a\nb\tc"})
    assert request.reason == "a\nb\tc"


def test_tool_result_keeps_reference_keys_and_drops_absent_ones():
    denied = ApprovalResult(
        approved=False,
        status=ApprovalStatus.DENIED,
        approval_id="a-1",
        decided_by="alice",
        message="Denied by human",
    )
    assert denied.as_tool_result() == {
        "approved": False,
        "status": "denied",
        "approval_id": "a-1",
        "decided_by": "alice",
        "message": "Denied by human",
    }


@pytest.mark.parametrize("value", ["a", "ws-1", "a.b_c:d-e", "A" * 128])
def test_ids_follow_one_rule(value):
    assert is_identifier(value)
    assert require_identifier(value, "id") == value
    ApprovalRequest(**{**VALID, "workspace_id": value})


@pytest.mark.parametrize("value", ["", "-a", "a/b", "../x", "a#b", "a b", "A" * 129, None, 7])
def test_bad_ids_are_refused_by_every_check(value):
    assert not is_identifier(value)
    with pytest.raises(ValidationError):
        ApprovalRequest(**{**VALID, "workspace_id": value})
    if isinstance(value, str):
        with pytest.raises(ValueError, match="invalid workspace id"):
            workflow_id_for(value, "k")


def test_the_workflow_id_is_the_workspace_and_the_key():
    assert workflow_id_for("ws-1", "k-1") == "approval-ws-1-k-1"
    assert workflow_id_for("ws-1") != workflow_id_for("ws-1")


@pytest.mark.parametrize("verdict", ["yes", "true", "false", 1, 0, None])
def test_a_decision_is_true_or_false_nothing_read_as_one(verdict):
    with pytest.raises(ValidationError, match="approved"):
        Decision(approval_id="a-1", approved=verdict)
    with pytest.raises(ValidationError, match="approved"):
        Decision.model_validate_json(
            f'{{"approval_id": "a-1", "approved": {verdict!r}}}'.replace("'", '"')
        )


def test_a_decision_from_json_keeps_its_verdict():
    assert (
        Decision.model_validate_json('{"approval_id": "a-1", "approved": false}').approved is False
    )
    assert Decision(approval_id="a-1", approved=True).approved is True
