"""Payloads stay readable by an earlier 1.x (docs/upgrading.md): the models refuse fields
they do not know, so a field a later release adds must not be sent at its default."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, create_model
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from durable_approvals.converter import data_converter
from durable_approvals.models import (
    ApprovalRequest,
    ApprovalResult,
    ApprovalStatus,
    Decision,
    DecisionSource,
)

CASES: list[tuple[BaseModel, str]] = [
    (Decision(approval_id="a-1", approved=True, decided_by="alice"), "channel"),
    (ApprovalRequest(workspace_id="ws", action="drop", reason="nightly"), "approvals_required"),
    (ApprovalResult(approved=False, status=ApprovalStatus.DENIED, approval_id="a-1"), "approvers"),
]


def without(model: type[BaseModel], field: str) -> type[BaseModel]:
    """``model`` as an earlier release had it: ``field`` not there yet, extras refused."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name != field
    }
    earlier: type[BaseModel] = create_model(
        f"Earlier{model.__name__}", __config__=ConfigDict(extra="forbid"), **fields
    )
    return earlier


def through(converter: DataConverter, value: BaseModel, type_hint: type) -> Any:
    payload = converter.payload_converter.to_payloads([value])
    return converter.payload_converter.from_payloads(payload, [type_hint])[0]


@pytest.mark.parametrize(("value", "new_field"), CASES, ids=lambda c: getattr(c, "__name__", c))
def test_an_earlier_reader_takes_a_payload_whose_new_field_is_at_its_default(value, new_field):
    earlier = without(type(value), new_field)
    read = through(data_converter, value, earlier)
    assert read.model_dump() == value.model_dump(exclude={new_field})


@pytest.mark.parametrize(("value", "new_field"), CASES, ids=lambda c: getattr(c, "__name__", c))
def test_the_sdks_converter_would_send_it_and_the_earlier_reader_refuse(value, new_field):
    """What the default-free payload prevents: the field sent as null, refused."""
    with pytest.raises(ValueError, match=new_field):
        through(pydantic_data_converter, value, without(type(value), new_field))


def test_a_field_set_away_from_its_default_is_sent_and_refused_by_an_earlier_reader():
    """Using a new feature against an older worker fails loudly, never silently dropped."""
    value = Decision(approval_id="a-1", approved=True, channel="slack", channel_user="U1")
    with pytest.raises(ApplicationError, match="channel"):
        through(data_converter, value, without(Decision, "channel"))


def test_every_field_round_trips_whether_or_not_it_is_sent():
    full = Decision(
        approval_id="a-1",
        approved=False,
        decided_by="human",  # the default: not sent, restored
        comment="no",
        source=DecisionSource.WEBSOCKET,
    )
    assert through(data_converter, full, Decision) == full
    for value, _ in CASES:
        assert through(data_converter, value, type(value)) == value
