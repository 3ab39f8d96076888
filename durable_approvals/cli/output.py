"""What the CLI prints and how it exits: exit codes, one-line errors (redacted), JSON options."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO, TypeVar

from pydantic import ValidationError

from durable_approvals.converter import validation_message
from durable_approvals.redaction import redact_text, register_secret
from durable_approvals.settings import Settings

APPROVED, DENIED, FAILED, REFUSED = 0, 1, 2, 3
INTERRUPTED = 130

T = TypeVar("T")


def silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at the null device: later writes go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def echo(text: str, *, err: bool = False, end: str = "\n") -> None:
    """Write ``text`` to stdout (stderr with ``err``) now; a closed pipe silences the stream."""
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text + end)
        stream.flush()
    except BrokenPipeError:
        silence(stream)


def one_line(error: Exception) -> str:
    """What went wrong, in one redacted line; for bad input, which field and why (not the
    value). Redacted before it is cut: a secret that spans lines is caught whole."""
    if isinstance(error, ValidationError):
        return f"invalid input: {validation_message(error)}"
    text = redact_text(str(error))
    return text.splitlines()[0] if text.strip() else type(error).__name__


def fail(message: str) -> None:
    """Print ``approvals: <message>`` on stderr, redacted."""
    echo(f"approvals: {redact_text(message)}", err=True)


def keep_secret(value: str | None) -> None:
    """Redact ``value`` (a token) from every message from now on, and each of its lines:
    an error may quote a header value with its line break escaped."""
    if not value:
        return
    register_secret(value)
    for part in value.splitlines():
        register_secret(part.strip())


def run(main: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run an async command with the environment's settings (its tokens kept secret)."""
    settings = Settings()
    for secret in (settings.workspace_token, settings.approver_token, settings.temporal_api_key):
        keep_secret(secret.get_secret_value() if secret is not None else None)
    return asyncio.run(main(settings))


def json_option(text: str | None, option: str) -> Any:
    """The JSON an option carries (``None`` when not given); NaN and Infinity are not JSON."""
    if text is None:
        return None

    def refuse(constant: str) -> None:
        raise ValueError(f"{option}: {constant} is not JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise ValueError(f"{option}: not JSON ({error.msg} at {error.pos})") from None
