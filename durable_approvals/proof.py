"""Proof of who decided: the platform's Ed25519 signature over one decision or one vote
(docs/trust-model.md).

The signed statement is ``canonical_statement(...)``: the UTF-8 bytes of the compact JSON
array ``[tag, workspace_id, approval_id, decision, decided_by, action_hash, decided_at]``
(no spaces, non-ASCII kept as is), where ``tag`` is ``"durable-approvals/decision/v1"``
for a decision and ``"durable-approvals/vote/v1"`` for a vote (N-of-M: one vote never
stands for a decision, nor the reverse), ``decision`` is
``"approved"`` or ``"denied"``, ``action_hash`` is the 64-hex hash the decision approves or
``null``, and ``decided_at`` is ``format_time(...)``: UTC, microseconds,
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. A signature (``proof``) is the 64-byte Ed25519 signature,
base64 (standard alphabet, padded); a public key is its 32 raw bytes, base64 the same way.

Needs ``cryptography`` (the ``worker`` extra): an agent-only install never imports this.
Verification is pure computation, so a workflow may run it.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STATEMENT_TAG = "durable-approvals/decision/v1"
VOTE_STATEMENT_TAG = "durable-approvals/vote/v1"
KEY_BYTES = 32
SIGNATURE_BYTES = 64
MAX_PROOF_CHARS = 200


def format_time(moment: datetime) -> str:
    """``moment`` as the statement writes it: UTC, microseconds, a ``Z`` suffix.

    Raises:
        ValueError: a naive datetime (its time zone is unknown).
    """
    if moment.tzinfo is None:
        raise ValueError("decided_at must carry a time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_statement(
    *,
    workspace_id: str,
    approval_id: str,
    approved: bool,
    decided_by: str,
    action_hash: str | None,
    decided_at: datetime,
    vote: bool = False,
) -> bytes:
    """The bytes a proof signs for one decision, or (``vote``) one vote (the module
    docstring defines them)."""
    fields = [
        VOTE_STATEMENT_TAG if vote else STATEMENT_TAG,
        workspace_id,
        approval_id,
        "approved" if approved else "denied",
        decided_by,
        action_hash,
        format_time(decided_at),
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64decode(text: str, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """The public half of ``private_key`` as a key text (base64 of 32 raw bytes)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def is_key_text(text: str) -> bool:
    """Whether ``text`` is a public key text (base64 of 32 bytes)."""
    return _b64decode(text, KEY_BYTES) is not None


def read_key_text(value: str) -> str:
    """A verify key given as a key text itself or as the path of a file holding one.

    Raises:
        ValueError: neither (the message never repeats the value).
    """
    candidate = value.strip()
    if is_key_text(candidate):
        return candidate
    try:
        text = Path(candidate).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise ValueError(
            "PLATFORM_VERIFY_KEY is neither a base64 Ed25519 public key nor a readable file"
        ) from None
    if not is_key_text(text):
        raise ValueError("PLATFORM_VERIFY_KEY's file does not hold a base64 Ed25519 public key")
    return text


def sign(private_key: Ed25519PrivateKey, statement: bytes) -> str:
    """The proof of ``statement``: its signature by ``private_key``, base64."""
    return base64.b64encode(private_key.sign(statement)).decode("ascii")


def verify(public_key: str, statement: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is ``public_key``'s signature of ``statement``.

    Never raises: a malformed key or signature, or none, is simply not valid.
    """
    if not signature or len(signature) > MAX_PROOF_CHARS:
        return False
    key = _b64decode(public_key, KEY_BYTES)
    raw = _b64decode(signature, SIGNATURE_BYTES)
    if key is None or raw is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(raw, statement)
    except (InvalidSignature, ValueError):
        return False
    return True


__all__ = [
    "STATEMENT_TAG",
    "VOTE_STATEMENT_TAG",
    "canonical_statement",
    "format_time",
    "is_key_text",
    "public_key_text",
    "read_key_text",
    "sign",
    "verify",
]
