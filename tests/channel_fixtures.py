"""The ``channel_stack`` fixture (imported by the channel test modules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from durable_approvals.channels.app import create_channel_app
from durable_approvals.channels.config import load_channels
from durable_approvals.channels.service import build_endpoint
from durable_approvals.channels.serving import AppServer
from durable_approvals.devstack.slack_standin import SlackStandinServer
from durable_approvals.settings import Settings
from tests.channels_kit import (
    ChannelStack,
    SmtpServer,
    free_port,
    standin_state,
    write_channel_config,
)


async def open_channel_stack(
    client: Any, settings: Settings, **config: Any
) -> AsyncIterator[ChannelStack]:
    """Everything a channel test needs, torn down afterwards; ``settings`` must name the
    worker's task queue (the endpoint decides for that deployment)."""
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    async with SlackStandinServer(standin_state()) as slack:
        path = write_channel_config(
            settings.rbac_config_path.parent,
            slack_base_url=slack.base_url,
            smtp_port=smtp.port,
            endpoint_url=f"http://127.0.0.1:{port}",
            **config,
        )
        assert path == settings.rbac_config_path
        channels = load_channels(path)
        assert channels is not None and channels.slack is not None
        channels = channels.model_copy(
            update={"slack": channels.slack.model_copy(update={"response_url_prefix": slack.url})}
        )
        endpoint = build_endpoint(settings, client, channels)
        async with AppServer(create_channel_app(endpoint), port=port) as server:
            slack.state.interactivity_url = f"{server.url}/slack/interactivity"
            try:
                yield ChannelStack(slack, smtp, server, endpoint, settings, path)
            finally:
                smtp.stop()
