"""The channel endpoint's Ed25519 key, which signs the decisions it receives (so a
workspace that requires verified deciders takes them), and the link secret that signs the
one-time links the notifier mails (docs/channels.md, "Trust model").

A link token is ``base64url(JSON payload) "." base64url(HMAC-SHA256)``; the payload binds
the workspace, approval id, approver, answer, action hash, expiry and a nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from durable_approvals.models import Decision
from durable_approvals.proof import channel_statement, public_key_text, sign

MAX_LINK_CHARS = 2_000
LINK_VERSION = 1


class LinkError(ValueError):
    """A link token that is malformed, altered or expired; the message says which."""


@dataclass(frozen=True)
class LinkClaim:
    """What a valid link says: who may give which answer to which approval, until when."""

    workspace_id: str
    approval_id: str
    approver: str
    approved: bool
    action_hash: str | None
    expires_at: float
    nonce: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _create_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


class ChannelKey:
    """The endpoint's key (created 0600 on first use; its public half in ``<path>.pub``)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def load(cls, path: Path) -> ChannelKey:
        """The key at ``path`` (PEM, PKCS#8), created if missing; writes ``<path>.pub``.

        Raises:
            ValueError: the file holds something else.
        """
        if path.exists():
            key = load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"channel key {path} is not an Ed25519 private key")
        else:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            _create_private(path, pem)
        path.with_name(path.name + ".pub").write_text(public_key_text(key) + "\n", "utf-8")
        return cls(key)

    @property
    def public_key(self) -> str:
        """The public half, base64: what the workspace config's ``verify_key`` names."""
        return public_key_text(self._key)

    def sign_decision(self, workspace_id: str, decision: Decision) -> Decision:
        """``decision`` with ``decided_at`` (now, if unset) and the endpoint's ``proof``
        over it, its channel and channel user.

        Raises:
            ValueError: the decision names no channel or channel user.
        """
        if decision.channel is None or decision.channel_user is None:
            raise ValueError("a channel decision names its channel and channel user")
        decided_at = decision.decided_at or datetime.now().astimezone()
        statement = channel_statement(
            workspace_id=workspace_id,
            approval_id=decision.approval_id,
            approved=decision.approved,
            decided_by=decision.decided_by,
            action_hash=decision.action_hash,
            decided_at=decided_at,
            channel=decision.channel,
            channel_user=decision.channel_user,
        )
        return decision.model_copy(
            update={"decided_at": decided_at, "proof": sign(self._key, statement)}
        )


class LinkSigner:
    """Signs and reads one-time link tokens with a shared secret (HMAC-SHA256)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()

    def link_token(
        self,
        *,
        workspace_id: str,
        approval_id: str,
        approver: str,
        approved: bool,
        action_hash: str | None,
        expires_at: float,
    ) -> str:
        """A signed one-time link token for one answer by one approver."""
        payload = {
            "v": LINK_VERSION,
            "w": workspace_id,
            "a": approval_id,
            "by": approver,
            "ok": approved,
            "h": action_hash,
            "exp": int(expires_at),
            "n": secrets.token_urlsafe(12),
        }
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def read_link(self, token: str, *, now: float) -> LinkClaim:
        """The claim of a link token this key signed.

        Raises:
            LinkError: malformed, altered (bad signature) or expired.
        """
        if len(token) > MAX_LINK_CHARS or token.count(".") != 1:
            raise LinkError("malformed link")
        body_text, signature_text = token.split(".")
        try:
            body, signature = _unb64(body_text), _unb64(signature_text)
        except (binascii.Error, ValueError):
            raise LinkError("malformed link") from None
        if not hmac.compare_digest(signature, self._mac(body)):
            raise LinkError("altered link (its signature does not match)")
        try:
            payload: Any = json.loads(body)
            claim = LinkClaim(
                workspace_id=str(payload["w"]),
                approval_id=str(payload["a"]),
                approver=str(payload["by"]),
                approved=payload["ok"] is True,
                action_hash=payload["h"] if isinstance(payload["h"], str) else None,
                expires_at=float(payload["exp"]),
                nonce=str(payload["n"]),
            )
        except (ValueError, KeyError, TypeError):
            raise LinkError("malformed link") from None
        if payload.get("v") != LINK_VERSION:
            raise LinkError("malformed link")
        if claim.expires_at < now:
            raise LinkError("expired link")
        return claim


def create_link_secret(path: Path) -> str:
    """A new random link secret written to ``path`` (0600), unless one is there; its text."""
    if not path.exists():
        _create_private(path, secrets.token_urlsafe(32).encode("ascii"))
    return path.read_text(encoding="utf-8").strip()


__all__ = ["ChannelKey", "LinkClaim", "LinkError", "LinkSigner", "create_link_secret"]
