"""``python -m durable_approvals.channels`` (``approvals-channels``): serve the channel
endpoint for the workspace of the usual settings; prints its URL and the Slack app
manifest to use."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from durable_approvals.channels.app import create_channel_app
from durable_approvals.channels.config import ChannelConfigError
from durable_approvals.channels.manifest import slack_manifest
from durable_approvals.channels.service import build_endpoint, load_endpoint_config
from durable_approvals.channels.serving import AppServer
from durable_approvals.connection import connect
from durable_approvals.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="approvals-channels",
        description="Serve Slack interactivity and email links for one workspace "
        "(docs/channels.md). Settings and config.yaml as for the worker.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    return parser


async def serve(host: str, port: int) -> int:
    """Serve until SIGINT or SIGTERM; 2 on a configuration error."""
    settings = Settings()
    try:
        channels = load_endpoint_config(settings)
    except ChannelConfigError as error:
        print(f"approvals-channels: {error}", file=sys.stderr)
        return 2
    client = await connect(settings)
    endpoint = build_endpoint(settings, client, channels)
    assert channels.endpoint is not None
    async with AppServer(create_channel_app(endpoint), host=host, port=port) as server:
        print(f"channel endpoint: {server.url} (public: {channels.endpoint.public_url})")
        print("Slack app manifest:")
        print(json.dumps(slack_manifest(channels.endpoint.public_url), indent=2), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    sys.exit(asyncio.run(serve(arguments.host, arguments.port)))


if __name__ == "__main__":
    main()
