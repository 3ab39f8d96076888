"""The workspace's ``channels:`` section of ``config.yaml`` (docs/channels.md).

Secrets are never in the file: it names the files (or environment variables) that hold the
Slack bot token, the signing secret and the SMTP password; they are read when used and
registered for redaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from durable_approvals.identity import identity_key
from durable_approvals.models import Identifier, NameText
from durable_approvals.redaction import register_secret

SLACK_ID_PATTERN = r"^[A-Z0-9][A-Z0-9_]{1,31}$"
EMAIL_PATTERN = r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$"
SlackId = Annotated[str, Field(pattern=SLACK_ID_PATTERN)]
"""A Slack user or conversation id (``U0123ABC``, ``C0123ABC``)."""
EmailAddress = Annotated[str, Field(pattern=EMAIL_PATTERN)]


class ChannelConfigError(ValueError):
    """The ``channels:`` section is malformed or a secret it names cannot be read; the
    message says where and never repeats a secret."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives: a file (first line) or an environment variable."""

    file: Path | None = None
    env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.file is None) == (self.env is None):
            raise ValueError("name exactly one of file or env")
        return self

    def read(self, what: str) -> str:
        """The secret's text, registered for redaction.

        Raises:
            ChannelConfigError: unreadable, empty or with control characters.
        """
        if self.file is not None:
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                raise ChannelConfigError(f"{what}: cannot read {self.file}") from None
        else:
            value = os.environ.get(self.env or "", "").strip()
        if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ChannelConfigError(f"{what}: empty or not one line of text")
        register_secret(value)
        return value


class SlackConfig(_Model):
    """Where Slack messages go and who the Slack users are."""

    bot_token: SecretRef
    signing_secret: SecretRef
    base_url: str = "https://slack.com/api/"
    """The Web API root; the local stand-in's URL in tests and on the dev stack."""
    channel: SlackId | None = None
    """The workspace's channel; ``None`` with ``direct_messages`` or group channels only."""
    group_channels: dict[Identifier, SlackId] = Field(default_factory=dict)
    """A channel per approver group: a request naming the group goes there."""
    direct_messages: bool = False
    """Also (or only) message each approver directly."""
    response_url_prefix: str = "https://hooks.slack.com/"
    """Interaction replies go only to response URLs under this (the stand-in's in tests)."""

    @model_validator(mode="after")
    def _somewhere(self) -> SlackConfig:
        if self.channel is None and not self.group_channels and not self.direct_messages:
            raise ValueError("name a channel, group_channels or direct_messages: true")
        return self


class TlsMode(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class EmailConfig(_Model):
    """The SMTP server that mails approvers."""

    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    from_address: EmailAddress
    tls: TlsMode = TlsMode.STARTTLS
    username: NameText | None = None
    password: SecretRef | None = None


class ApproverContact(_Model):
    """How one approver is reached; the Slack id is also how a click is mapped to them."""

    slack: SlackId | None = None
    email: EmailAddress | None = None


class EndpointConfig(_Model):
    """The channel endpoint: where Slack and the email links reach it, and its key."""

    public_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
    signing_key: Path
    """Its Ed25519 private key (PEM), only the endpoint reads it: signs the decisions it
    receives. The public half (``<path>.pub``) is what ``verify_key`` names."""
    link_secret: SecretRef
    """Signs the email links: the notifier mints them, the endpoint checks them."""
    link_ttl_seconds: Annotated[float, Field(ge=60, le=7 * 86_400)] = 86_400.0


class ChannelsConfig(_Model):
    """The ``channels:`` section."""

    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    approvers: dict[NameText, ApproverContact] = Field(default_factory=dict)
    endpoint: EndpointConfig | None = None
    verify_key: str | None = None
    """The endpoint's public key (base64, or a file holding it): decisions it signs count
    as verified (docs/trust-model.md)."""
    store_path: Path | None = None
    """The notifier's small store (message ids); default beside ``config.yaml``."""

    @model_validator(mode="after")
    def _unique(self) -> ChannelsConfig:
        seen: dict[str, str] = {}
        for name, contact in self.approvers.items():
            key = identity_key(name)
            if key in seen:
                raise ValueError(f"approver {name!r} is listed twice")
            seen[key] = name
            if contact.slack is not None and contact.slack in seen:
                raise ValueError(f"Slack user {contact.slack} is mapped twice")
            if contact.slack is not None:
                seen[contact.slack] = name
        return self

    def approver_for_slack_user(self, user_id: str) -> str | None:
        """The approver a Slack user id is mapped to, or ``None``."""
        for name, contact in self.approvers.items():
            if contact.slack is not None and contact.slack == user_id:
                return name
        return None

    def contact(self, name: str) -> ApproverContact | None:
        """The contact of approver ``name`` (compared as ``approvals.identity`` does)."""
        key = identity_key(name)
        for known, contact in self.approvers.items():
            if identity_key(known) == key:
                return contact
        return None

    def approver_name(self, name: str) -> str | None:
        """The registry's spelling of ``name``, or ``None`` when unknown."""
        key = identity_key(name)
        return next((known for known in self.approvers if identity_key(known) == key), None)


def channels_from_config(config: Any, where: str = "config.yaml") -> ChannelsConfig | None:
    """The ``channels:`` section of a parsed config; absent: ``None``.

    Raises:
        ChannelConfigError: present but malformed (one line: where and what).
    """
    raw = config.get("channels") if isinstance(config, Mapping) else None
    if raw is None:
        return None
    try:
        return ChannelsConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "channels"
        raise ChannelConfigError(f"{where}: channels.{place}: {first['msg']}") from None


def load_channels(path: Path) -> ChannelsConfig | None:
    """The ``channels:`` section of the config file at ``path``; no file or no section:
    ``None``.

    Raises:
        ChannelConfigError: unreadable YAML or a malformed section.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ChannelConfigError(f"cannot read {path}: {error.__class__.__name__}") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ChannelConfigError(f"{path} is not YAML") from None
    return channels_from_config(config, where=str(path))


__all__ = [
    "ApproverContact",
    "ChannelConfigError",
    "ChannelsConfig",
    "EmailConfig",
    "EndpointConfig",
    "SecretRef",
    "SlackConfig",
    "TlsMode",
    "channels_from_config",
    "load_channels",
]
