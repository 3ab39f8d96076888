"""Secret redaction for what leaves the process as text: audit records and logs.

The patterns favour false positives (a redacted harmless string) over leaks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***REDACTED***"

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        # PEM private keys, whole block.
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
        # OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-..., sk-cp-...
        r"\bsk-[A-Za-z0-9_\-]{16,}",
        # GitHub tokens.
        r"\bgithub_pat_[A-Za-z0-9_]{20,}",
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",
        # AWS access key ids and secrets given as key=value.
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
        r"(?i)(?<=aws_secret_access_key)(\s*[=:]\s*)[A-Za-z0-9/+=]{30,}",
        # Slack, Google API keys.
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\bAIza[0-9A-Za-z_\-]{35}\b",
        # JWTs.
        r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    )
)

# "Bearer <token>" and "token=<value>"-style assignments keep their label.
_LABELLED_SECRETS = re.compile(
    r"(?i)(\bbearer\s+|\b(?:[a-z0-9_]*(?:token|secret|password|passwd|api[_-]?key|auth))"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s\"',;]{6,})"
)

# Long base64 runs (an encoded admin token) that no pattern above claimed.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{32,}={0,2}(?![A-Za-z0-9+/=_-])")


def _looks_random(run: str) -> bool:
    """Base64 secrets mix cases and digits; long words, paths and hex hashes do not all."""
    has_upper = any(c.isupper() for c in run)
    has_lower = any(c.islower() for c in run)
    has_digit = any(c.isdigit() for c in run)
    return has_upper and has_lower and has_digit


MIN_KNOWN_SECRET_CHARS = 4
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact ``value`` verbatim from now on, whatever its shape (the worker's own token).

    ``None`` and values shorter than ``MIN_KNOWN_SECRET_CHARS`` are ignored.
    """
    if value and len(value) >= MIN_KNOWN_SECRET_CHARS:
        _known_secrets.add(value)


def redact_text(text: str) -> str:
    """Replace every secret-looking span of ``text`` with ``***REDACTED***``."""
    for known in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(known, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _LABELLED_SECRETS.sub(lambda m: m.group(1) + REDACTED, text)
    return _BASE64_RUN.sub(lambda m: REDACTED if _looks_random(m.group(0)) else m.group(0), text)


def redact(value: Any) -> Any:
    """Redact strings anywhere inside JSON-like data (dicts, lists, scalars)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that renders each record's message and traceback, then redacts them.

    Install it on handlers, not loggers, so third-party records pass through it too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
