"""The Slack app manifest the endpoint needs (docs/channels.md, "Set-up")."""

from __future__ import annotations

from typing import Any

BOT_SCOPES = ["chat:write", "im:write", "channels:history", "groups:history", "im:history"]
"""Post and update messages, open DMs, and read the history a retry searches."""


def slack_manifest(public_url: str, name: str = "Durable approvals") -> dict[str, Any]:
    """The manifest for an app whose interactivity posts to ``public_url``."""
    return {
        "display_information": {"name": name},
        "features": {"bot_user": {"display_name": "approvals", "always_online": True}},
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "interactivity": {
                "is_enabled": True,
                "request_url": f"{public_url.rstrip('/')}/slack/interactivity",
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
        },
    }


__all__ = ["BOT_SCOPES", "slack_manifest"]
