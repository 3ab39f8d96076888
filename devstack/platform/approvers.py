"""[ext] Who may decide on the reference platform, and the key it signs decisions with
(docs/trust-model.md).

The approvers file (``--approvers PATH`` or ``$PLATFORM_APPROVERS_FILE``), YAML or JSON::

    approvers:
      - name: Bob Builder            # becomes decided_by (approvals.models.NameText)
        token_sha256: 9f86d0...      # SHA-256 of the approver's token, 64 lowercase hex
        workspaces: [ws-prod]        # optional: the only workspaces they decide in

Tokens are never stored in clear: ``token_hash(token)`` is what the file holds. A caller
presents the token in the ``X-Approver-Token`` header (``APPROVER_HEADER``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from durable_approvals.identity import identity_key
from durable_approvals.models import Identifier, NameText
from durable_approvals.platform_client import APPROVER_HEADER
from durable_approvals.proof import public_key_text

APPROVERS_FILE_VARIABLE = "PLATFORM_APPROVERS_FILE"
MAX_TOKEN_CHARS = 1_000


class ApproversFileError(ValueError):
    """The approvers file is missing, unreadable or malformed; the message says where."""


def token_hash(token: str) -> str:
    """What the approvers file stores for ``token``: its SHA-256, lowercase hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class _Approver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[NameText, AfterValidator(_not_blank)]
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    workspaces: list[Identifier] | None = None


class _ApproversFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[_Approver] = Field(min_length=1)


@dataclass(frozen=True)
class Approver:
    """One approver: the name their decisions carry, and where they may decide."""

    name: str
    workspaces: frozenset[str] | None

    def may_decide_in(self, workspace_id: str) -> bool:
        return self.workspaces is None or workspace_id in self.workspaces


class Approvers:
    """The approvers of one platform run, found by token (constant-time compares)."""

    def __init__(self, entries: list[tuple[str, Approver]]) -> None:
        self._entries = entries

    @classmethod
    def parse(cls, config: Any, where: str = "approvers file") -> Approvers:
        """The approvers of a parsed file.

        Raises:
            ApproversFileError: not the shape above, or a name or token hash twice.
        """
        try:
            parsed = _ApproversFile.model_validate(config)
        except ValidationError as error:
            first = error.errors()[0]
            place = ".".join(str(part) for part in first["loc"]) or "top level"
            raise ApproversFileError(f"{where}: {place}: {first['msg']}") from None
        names: set[str] = set()
        hashes: set[str] = set()
        entries = []
        for entry in parsed.approvers:
            key = identity_key(entry.name)
            if key in names or entry.token_sha256 in hashes:
                raise ApproversFileError(f"{where}: approver {entry.name!r} is listed twice")
            names.add(key)
            hashes.add(entry.token_sha256)
            workspaces = frozenset(entry.workspaces) if entry.workspaces is not None else None
            entries.append((entry.token_sha256, Approver(entry.name, workspaces)))
        return cls(entries)

    @classmethod
    def load(cls, path: Path) -> Approvers:
        """Read ``path`` (YAML or JSON).

        Raises:
            ApproversFileError: unreadable, not YAML, or malformed (``parse``).
        """
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise ApproversFileError(f"cannot read approvers file {path}: {error}") from None
        except yaml.YAMLError:
            raise ApproversFileError(f"approvers file {path} is not YAML or JSON") from None
        return cls.parse(config, where=f"approvers file {path}")

    def authenticate(self, token: str | None) -> Approver | None:
        """The approver whose token this is, or ``None``."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        presented = token_hash(token.strip())
        found: Approver | None = None
        for stored, approver in self._entries:  # every entry compared: no early exit
            if hmac.compare_digest(stored, presented):
                found = approver
        return found

    @property
    def names(self) -> list[str]:
        return [approver.name for _, approver in self._entries]


def approvers_from_environment(path: Path | None) -> Approvers | None:
    """``path``, else ``$PLATFORM_APPROVERS_FILE``, loaded; neither: ``None`` (no approvers)."""
    chosen = path or (
        Path(os.environ[APPROVERS_FILE_VARIABLE])
        if os.environ.get(APPROVERS_FILE_VARIABLE)
        else None
    )
    return Approvers.load(chosen) if chosen is not None else None


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The platform's Ed25519 key from ``path`` (PEM, PKCS#8), created (mode 0600) if
    missing; its public key is written next to it, ``<path>.pub`` (base64, one line):
    the file the worker's PLATFORM_VERIFY_KEY names.

    Raises:
        ValueError: the file holds something else.
    """
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {path} is not an Ed25519 private key")
    else:
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
    public_key_path(path).write_text(public_key_text(key) + "\n", encoding="utf-8")
    return key


def public_key_path(signing_key_path: Path) -> Path:
    """Where ``load_signing_key`` writes the public key: ``<path>.pub``."""
    return signing_key_path.with_name(signing_key_path.name + ".pub")


__all__ = [
    "APPROVERS_FILE_VARIABLE",
    "APPROVER_HEADER",
    "Approver",
    "Approvers",
    "ApproversFileError",
    "approvers_from_environment",
    "load_signing_key",
    "public_key_path",
    "token_hash",
]
