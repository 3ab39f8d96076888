"""The data converter every client and worker of this project uses.

It is temporalio's pydantic converter with one change: a payload the models
refuse while being *decoded* (a workflow input started with ``temporal workflow
start --input``, a raw signal, an activity input) raises a non-retryable
``ApplicationError`` of type ``PayloadValidationError`` (the SDK's reserved name
for exactly this) instead of pydantic's ``ValidationError``.

Why: the SDK treats any other exception while decoding a workflow's input as a
workflow *task* failure and retries the task forever, so a bad input would
crash-loop the workflow instead of failing it; an activity would be retried.
With an ``ApplicationError`` the workflow fails at once with a typed error, an
activity fails without retries, and a bad signal is dropped with a log line
(the SDK's rule for signals). Encoding is unchanged, so a client that still
uses the stock pydantic converter talks to these workers as before.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.exceptions import ApplicationError

from approvals import errors

MAX_MESSAGE_CHARS = 1_000


def validation_message(error: ValidationError) -> str:
    """``Model: field: problem; ...`` without the offending values.

    The values are left out on purpose: they may be long, binary, or secret
    (an action text with a token in it), and the message lands in histories
    and logs.
    """
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(value)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    )
    return f"{error.title}: {problems}"[:MAX_MESSAGE_CHARS]


class ValidatingJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    """JSON payloads through pydantic; a refused payload is a typed, final error."""

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
"""Set on every client (and so every worker) of this project; see the module docstring."""

__all__ = ["data_converter", "validation_message"]
