"""A local stand-in for Slack's Web API and its interactivity (tests and the dev stack).

Answers ``chat.postMessage``, ``chat.update``, ``conversations.history``,
``conversations.open`` and ``auth.test`` like Slack (``{"ok": true, ...}``), records every
message, and, like Slack, posts a signed interaction payload to the app's interactivity
URL when someone "clicks" a button (``POST /_standin/click``). ``GET /`` shows the
messages with their buttons. Not Slack: no rate limits, no real users.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from durable_approvals.channels.serving import AppServer

TEAM_ID = "T0STANDIN"


@dataclass
class StandinMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    updates: int = 0


@dataclass
class SlackStandin:
    """What the stand-in saw: messages by (channel, ts), every call, replies to response
    URLs; ``token`` is the bot token it accepts, ``signing_secret`` what it signs with."""

    token: str
    signing_secret: str
    interactivity_url: str | None = None
    messages: dict[tuple[str, str], StandinMessage] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    """Modals opened (``views.open``), newest last."""
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    """``chat.postEphemeral`` messages: channel, user, text."""
    fail_next: list[str] = field(default_factory=list)
    """Method names whose next call answers ``{"ok": false, "error": "fatal_error"}``."""
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    def in_channel(self, channel: str) -> list[StandinMessage]:
        return [m for (c, _), m in self.messages.items() if c == channel]

    def signed_headers(self, body: bytes, *, at: float | None = None) -> dict[str, str]:
        """The headers Slack signs a request to the app with (v0 scheme)."""
        timestamp = str(int(at if at is not None else time.time()))
        base = b"v0:" + timestamp.encode() + b":" + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded",
        }


def interaction_payload(
    message: StandinMessage, action_id: str, user_id: str, response_url: str
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it for a button in ``message``."""
    value = ""
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                value = element.get("value", "")
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "channel": {"id": message.channel},
        "container": {"type": "message", "channel_id": message.channel, "message_ts": message.ts},
        "message": {"ts": message.ts, "text": message.text, "metadata": message.metadata},
        "response_url": response_url,
        "trigger_id": f"{message.ts}.{uuid.uuid4().hex[:12]}",  # one per interaction
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }


def view_submission(view: dict[str, Any], user_id: str, args_text: str) -> dict[str, Any]:
    """A ``view_submission`` payload for an edits modal, its args input set to ``args_text``."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "view": {
            "callback_id": view.get("callback_id"),
            "private_metadata": view.get("private_metadata"),
            "state": {
                "values": {"args": {"args": {"type": "plain_text_input", "value": args_text}}}
            },
        },
    }


def form_body(payload: dict[str, Any]) -> bytes:
    """The form body Slack posts: ``payload=<JSON>``."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def _ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"ok": True, **fields})


def _error(error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error})


async def _arguments(request: Request) -> dict[str, Any]:
    arguments: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if raw and request.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(raw)
        if isinstance(body, dict):
            arguments.update(body)
    elif raw:
        arguments.update(dict(urllib.parse.parse_qsl(raw.decode())))
    for key in ("blocks", "metadata"):
        if isinstance(arguments.get(key), str):
            arguments[key] = json.loads(arguments[key])
    return arguments


def create_standin_app(state: SlackStandin) -> FastAPI:
    """The stand-in's app over ``state``."""
    app = FastAPI(title="Slack Web API stand-in", docs_url=None, redoc_url=None)
    app.state.slack = state

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def api(method: str, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {state.token}":
            return _error("invalid_auth")
        arguments = await _arguments(request)
        state.calls.append((method, arguments))
        if method in state.fail_next:
            state.fail_next.remove(method)
            return _error("fatal_error")
        if method == "auth.test":
            return _ok(team_id=TEAM_ID, user_id="U0BOT")
        if method == "conversations.open":
            return _ok(channel={"id": "D" + str(arguments.get("users", "")).lstrip("U")[:20]})
        if method == "chat.postMessage":
            channel = str(arguments.get("channel", ""))
            ts = state.next_ts()
            state.messages[(channel, ts)] = StandinMessage(
                channel,
                ts,
                str(arguments.get("text", "")),
                list(arguments.get("blocks") or []),
                arguments.get("metadata"),
            )
            return _ok(channel=channel, ts=ts, message={"ts": ts})
        if method == "chat.update":
            key = (str(arguments.get("channel", "")), str(arguments.get("ts", "")))
            message = state.messages.get(key)
            if message is None:
                return _error("message_not_found")
            message.text = str(arguments.get("text", message.text))
            message.blocks = list(arguments.get("blocks") or message.blocks)
            message.updates += 1
            return _ok(channel=key[0], ts=key[1])
        if method == "views.open":
            view = arguments.get("view")
            if isinstance(view, str):
                view = json.loads(view)
            state.views.append({"trigger_id": arguments.get("trigger_id"), "view": view})
            return _ok(view={"id": f"V{len(state.views):06d}"})
        if method == "chat.postEphemeral":
            state.ephemeral.append({k: arguments.get(k) for k in ("channel", "user", "text")})
            return _ok(message_ts=state.next_ts())
        if method == "conversations.history":
            channel = str(arguments.get("channel", ""))
            found = sorted(state.in_channel(channel), key=lambda m: m.ts, reverse=True)
            return _ok(
                messages=[
                    {"ts": m.ts, "text": m.text, "metadata": m.metadata} for m in found[:100]
                ],
                has_more=False,
            )
        return _error("unknown_method")

    @app.get("/_standin/messages")
    async def messages() -> JSONResponse:
        """Every message as posted and updated, oldest first (for scripts and tests)."""
        return JSONResponse(
            [
                {"channel": m.channel, "ts": m.ts, "text": m.text, "metadata": m.metadata}
                for m in sorted(state.messages.values(), key=lambda m: m.ts)
            ]
        )

    @app.post("/_standin/response/{channel}/{ts}")
    async def response_url(channel: str, ts: str, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        state.responses.append({"channel": channel, "ts": ts, **body})
        return JSONResponse({"ok": True})

    @app.post("/_standin/click")
    async def click(request: Request) -> JSONResponse:
        """``{"channel", "ts", "action_id", "user"}``: post the signed payload as Slack would."""
        body = json.loads(await request.body())
        message = state.messages.get((str(body.get("channel")), str(body.get("ts"))))
        if message is None or state.interactivity_url is None:
            return JSONResponse({"ok": False, "error": "no such message or no app"}, 404)
        answer = await click_as_slack(
            state, message, str(body.get("action_id")), str(body.get("user")), str(request.base_url)
        )
        return JSONResponse({"ok": True, "status": answer.status_code, "reply": answer.text})

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return _page(state)

    return app


async def click_as_slack(
    state: SlackStandin, message: StandinMessage, action_id: str, user_id: str, base_url: str
) -> httpx.Response:
    """Post the interaction payload of a click, signed, to the app's interactivity URL."""
    if state.interactivity_url is None:
        raise RuntimeError("the stand-in has no interactivity URL")
    response_url = f"{base_url.rstrip('/')}/_standin/response/{message.channel}/{message.ts}"
    body = form_body(interaction_payload(message, action_id, user_id, response_url))
    async with httpx.AsyncClient(timeout=30.0) as http:
        return await http.post(
            state.interactivity_url, content=body, headers=state.signed_headers(body)
        )


def _page(state: SlackStandin) -> str:
    import html

    rows = []
    for message in sorted(state.messages.values(), key=lambda m: m.ts, reverse=True):
        buttons = "".join(
            f"<button data-channel='{html.escape(message.channel)}' data-ts='{message.ts}' "
            f"data-action='{html.escape(e.get('action_id', ''))}'>"
            f"{html.escape(e.get('text', {}).get('text', ''))}</button>"
            for block in message.blocks
            for e in block.get("elements", [])
            if e.get("type") == "button"
        )
        rows.append(
            f"<li><b>{html.escape(message.channel)}</b> <pre>{html.escape(message.text)}</pre>"
            f"{buttons}</li>"
        )
    return (
        "<!doctype html><meta charset=utf-8><title>Slack stand-in</title>"
        "<p>Clicking as Slack user <input id=user value=U0ALICE></p><ul>"
        + "".join(rows)
        + "</ul><script>document.querySelectorAll('button').forEach(b=>b.onclick=async()=>{"
        "const r=await fetch('/_standin/click',{method:'POST',headers:{'Content-Type':"
        "'application/json'},body:JSON.stringify({channel:b.dataset.channel,ts:b.dataset.ts,"
        "action_id:b.dataset.action,user:document.getElementById('user').value})});"
        "alert((await r.json()).reply);location.reload()})</script>"
    )


class SlackStandinServer(AppServer):
    """The stand-in served on 127.0.0.1; ``base_url`` is what the SDK's ``base_url`` takes."""

    def __init__(self, state: SlackStandin, *, port: int = 0) -> None:
        super().__init__(create_standin_app(state), port=port)
        self.state = state

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"


__all__ = [
    "SlackStandin",
    "SlackStandinServer",
    "StandinMessage",
    "click_as_slack",
    "create_standin_app",
    "form_body",
    "interaction_payload",
    "view_submission",
]


def main(argv: list[str] | None = None) -> None:
    """``python -m durable_approvals.devstack.slack_standin``: serve the stand-in until
    stopped; the bot token, the signing secret and the app's interactivity URL as options
    (secrets by file)."""
    import argparse
    import asyncio
    import signal
    from pathlib import Path

    parser = argparse.ArgumentParser(description="A local stand-in for Slack's Web API.")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--signing-secret-file", type=Path, required=True)
    parser.add_argument("--interactivity-url", default=None)
    arguments = parser.parse_args(argv)
    state = SlackStandin(
        token=arguments.token_file.read_text(encoding="utf-8").strip(),
        signing_secret=arguments.signing_secret_file.read_text(encoding="utf-8").strip(),
        interactivity_url=arguments.interactivity_url,
    )

    async def serve() -> None:
        server = SlackStandinServer(state, port=arguments.port)
        async with server:
            print(f"Slack stand-in: {server.url} (Web API at {server.base_url})", flush=True)
            stop = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
