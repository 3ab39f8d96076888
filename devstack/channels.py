"""The dev stack's channels (``python -m durable_approvals.devstack --channels``): the
Slack stand-in, a local SMTP server that writes each mail to its log, and the channel
endpoint, with a ``channels:`` section in the workspace config (docs/channels.md).

Secrets and the endpoint's key are created once under ``<data>/channels`` (0600) and kept;
a ``channels:`` section already in the config is never rewritten.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from durable_approvals.channels.keys import ChannelKey

DEMO_CONTACTS = {
    "alice": {"slack": "U0ALICE", "email": "alice@example.com"},
    "bob": {"slack": "U0BOB", "email": "bob@example.com"},
}
DEMO_CHANNEL = "C0APPROVALS"
STANDIN_PORT = 8091
ENDPOINT_PORT = 8790
SMTP_PORT = 8025


@dataclass(frozen=True)
class DevChannels:
    """Where the stack keeps the channels' secrets and which ports they take."""

    data_dir: Path
    standin_port: int = STANDIN_PORT
    endpoint_port: int = ENDPOINT_PORT
    smtp_port: int = SMTP_PORT

    @property
    def folder(self) -> Path:
        return self.data_dir / "channels"

    def secret_file(self, name: str) -> Path:
        return self.folder / name

    @property
    def standin_url(self) -> str:
        return f"http://127.0.0.1:{self.standin_port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.endpoint_port}"

    def prepare(self, config_path: Path) -> None:
        """Create the secrets and the key if missing; add a ``channels:`` section to the
        workspace config when it has none."""
        for name in ("slack-bot-token", "slack-signing-secret", "link-secret"):
            path = self.secret_file(name)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                value = ("xoxb-standin-" if name == "slack-bot-token" else "") + (
                    secrets.token_urlsafe(24)
                )
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
                    sink.write(value + "\n")
        key = ChannelKey.load(self.folder / "channel-key.pem")
        text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
        loaded = yaml.safe_load(text) if text else None
        if isinstance(loaded, dict) and "channels" in loaded:
            return
        section = {"channels": self.section(key.public_key)}
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(
            text
            + ("\n" if text and not text.endswith("\n") else "")
            + "# Written by the dev stack (--channels): the Slack stand-in, the local SMTP\n"
            "# server and the channel endpoint (docs/channels.md).\n"
            + yaml.safe_dump(section, sort_keys=False),
            encoding="utf-8",
        )

    def section(self, verify_key: str) -> dict[str, Any]:
        return {
            "slack": {
                "bot_token": {"file": str(self.secret_file("slack-bot-token"))},
                "signing_secret": {"file": str(self.secret_file("slack-signing-secret"))},
                "base_url": f"{self.standin_url}/api/",
                "channel": DEMO_CHANNEL,
                "response_url_prefix": f"{self.standin_url}/",
            },
            "email": {
                "host": "127.0.0.1",
                "port": self.smtp_port,
                "from_address": "approvals@example.com",
                "tls": "none",
            },
            "approvers": DEMO_CONTACTS,
            "endpoint": {
                "public_url": self.endpoint_url,
                "signing_key": str(self.folder / "channel-key.pem"),
                "link_secret": {"file": str(self.secret_file("link-secret"))},
            },
            "verify_key": verify_key,
            "store_path": str(self.folder / "channels.db"),
        }


__all__ = ["DEMO_CONTACTS", "DevChannels"]
