"""The data converter of every client and worker of this project.

The SDK's pydantic converter, except that a payload the models refuse while it is
decoded raises a non-retryable ``ApplicationError`` typed ``PayloadValidationError``:
the workflow fails at once instead of retrying its task forever; and that a model's
fields at their defaults are not sent, so a reader of an earlier 1.x, whose models
refuse fields they do not know, takes what a later one sends (docs/upgrading.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.exceptions import ApplicationError

from durable_approvals import errors

MAX_MESSAGE_CHARS = 1_000


def validation_message(error: ValidationError) -> str:
    """``Model: field: problem; ...``, at most 1,000 characters, without the values.

    The values may be long, binary or secret, and the message lands in logs.
    """
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(value)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    )
    return f"{error.title}: {problems}"[:MAX_MESSAGE_CHARS]


class ValidatingJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    """JSON payloads through pydantic; a refused payload is a typed, final error."""

    def to_payload(self, value: Any) -> Payload | None:
        """A model as JSON without its fields at their defaults (the reader's defaults
        restore them); anything else as the SDK writes it."""
        if isinstance(value, BaseModel):
            return Payload(
                metadata={"encoding": self.encoding.encode()},
                data=value.model_dump_json(exclude_defaults=True).encode(),
            )
        return super().to_payload(value)

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as error:
            raise ApplicationError(
                f"invalid payload: {validation_message(error)}",
                type=errors.PAYLOAD_INVALID,
                non_retryable=True,
            ) from None


class ValidatingPayloadConverter(CompositePayloadConverter):
    """The SDK's default converters with JSON handled by :class:`ValidatingJSONPayloadConverter`."""

    def __init__(self) -> None:
        json_converter = ValidatingJSONPayloadConverter()
        super().__init__(
            *(
                json_converter if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


data_converter = DataConverter(payload_converter_class=ValidatingPayloadConverter)
"""Set on every client (and so every worker) of this project."""

__all__ = ["data_converter", "validation_message"]
