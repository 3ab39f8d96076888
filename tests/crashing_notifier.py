"""The notifier's Slack step, SIGKILLed right after Slack took the message and before the
store recorded it: ``python -m tests.crashing_notifier CONFIG NOTICE_JSON``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from durable_approvals.channels.config import load_channels
from durable_approvals.channels.notice import ApprovalNotice
from durable_approvals.channels.slack import SlackNotifier
from durable_approvals.channels.store import ChannelStore


class _DiesAfterPosting(WebClient):
    def chat_postMessage(self, **kwargs: Any) -> Any:
        super().chat_postMessage(**kwargs)
        os.kill(os.getpid(), signal.SIGKILL)


async def main(config_path: Path, notice_json: str) -> None:
    channels = load_channels(config_path)
    assert channels is not None and channels.slack is not None and channels.store_path
    client = _DiesAfterPosting(
        token=channels.slack.bot_token.read("bot token"), base_url=channels.slack.base_url
    )
    notifier = SlackNotifier(channels, ChannelStore(channels.store_path), client)
    await notifier.publish(ApprovalNotice.model_validate_json(notice_json))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
