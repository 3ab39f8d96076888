"""The channel endpoint's HTTP routes (docs/channels.md): Slack interactivity and the email
links' confirmation pages. Writes only from where they should come (issue-23 rules):
Slack's signature, or a same-origin form; bounded bodies; known Host headers."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from durable_approvals.channels.endpoint import ENDED, ChannelEndpoint, Click, Refusal
from durable_approvals.channels.manifest import slack_manifest
from durable_approvals.channels.notice import APPROVE_EDITS
from durable_approvals.channels.pages import PAGE_HEADERS, confirm_page, result_page
from durable_approvals.channels.verdicts import verdict_text
from durable_approvals.redaction import redact_text

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"
SYNC_REPLY_SECONDS = 2.5
"""Slack wants an answer within 3 s: a slower decision answers through response_url later."""


async def _form_body(request: Request) -> bytes:
    """The body of a form POST, at most ``MAX_BODY_BYTES``.

    Raises:
        Refusal: another Content-Type (415) or too large (413).
    """
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise Refusal("unsupported content type", 415)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise Refusal("request too large", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refusal("request too large", 413)
    return bytes(body)


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def create_channel_app(endpoint: ChannelEndpoint) -> FastAPI:
    """The endpoint's app over ``endpoint``."""
    config = endpoint.channels.endpoint
    public = urllib.parse.urlsplit(config.public_url) if config is not None else None
    origin = f"{public.scheme}://{public.netloc}" if public is not None else None
    app = FastAPI(title="durable-approvals channels", docs_url=None, redoc_url=None)
    hosts = ["127.0.0.1", "localhost"] + ([public.hostname] if public and public.hostname else [])
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    pending: set[asyncio.Task[Any]] = set()

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal) -> Response:
        text = refusal.text
        if request.url.path.startswith("/email"):
            return HTMLResponse(result_page(text), refusal.status, headers=PAGE_HEADERS)
        return JSONResponse({"refused": refusal.reason, "text": text}, refusal.status)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/slack/manifest")
    async def manifest() -> dict[str, Any]:
        return slack_manifest(config.public_url if config is not None else "http://127.0.0.1")

    async def reply(url: str | None, text: str) -> None:
        """Tell the clicker, ephemerally, through Slack's response_url."""
        slack = endpoint.channels.slack
        if url is None or slack is None or not url.startswith(slack.response_url_prefix):
            return
        message = {"response_type": "ephemeral", "replace_original": False, "text": text}
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                await http.post(url, json=message)
        except httpx.HTTPError as error:
            logger.warning("could not answer the Slack click: %s", redact_text(str(error)))

    async def decide_and_reply(click: Click) -> str:
        try:
            text = verdict_text(await endpoint.decide_click(click))
        except Refusal as refusal:
            text = refusal.text
        await reply(click.response_url, text)
        return text

    async def open_edits(click: Click) -> str:
        view = await endpoint.edits_view(click)
        if view is None or endpoint.slack_client is None:
            endpoint.refuse(
                ENDED, "slack", approval_id=click.approval_id, channel_user=click.slack_user
            )
            text = f"refused: {ENDED}"
            await reply(click.response_url, text)
            return text
        await asyncio.to_thread(
            endpoint.slack_client.views_open, trigger_id=click.trigger_id, view=view
        )
        return "edit the args"

    async def submit_edits(payload: dict[str, Any]) -> str:
        user = str((payload.get("user") or {}).get("id", ""))
        try:
            verdict, channel = await endpoint.decide_edits(payload)
            text = verdict_text(verdict)
        except Refusal as refusal:
            text, channel = refusal.text, None
        if channel is not None and endpoint.slack_client is not None:
            await asyncio.to_thread(
                endpoint.slack_client.chat_postEphemeral, channel=channel, user=user, text=text
            )
        return text

    async def within_slack_window(work: Awaitable[str]) -> str | None:
        task = asyncio.ensure_future(work)
        pending.add(task)
        task.add_done_callback(pending.discard)
        try:
            result: str = await asyncio.wait_for(asyncio.shield(task), SYNC_REPLY_SECONDS)
        except TimeoutError:
            return None  # it answers through Slack when done
        return result

    @app.post("/slack/interactivity")
    async def interactivity(request: Request) -> Response:
        body = await _form_body(request)
        endpoint.verify_slack(
            body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
        )
        try:
            payload = json.loads(_field(urllib.parse.parse_qs(body.decode()), "payload") or "")
        except (ValueError, UnicodeDecodeError):
            raise endpoint.refuse("malformed request", "slack") from None
        if not isinstance(payload, dict):
            raise endpoint.refuse("malformed request", "slack")
        if payload.get("type") == "view_submission":
            text = await within_slack_window(submit_edits(payload))
            return JSONResponse({"response_action": "clear", "text": text})
        if payload.get("type") != "block_actions":
            return JSONResponse({"ignored": payload.get("type")})
        try:
            click = endpoint.click(payload)
        except Refusal as refusal:  # from Slack, so answered as Slack expects: 200
            text = refusal.text
            url = payload.get("response_url")
            await reply(url if isinstance(url, str) else None, text)
            return JSONResponse({"refused": refusal.reason, "text": text})
        work = open_edits(click) if click.action_id == APPROVE_EDITS else decide_and_reply(click)
        return JSONResponse({"text": await within_slack_window(work)})

    @app.get("/email/confirm", response_class=HTMLResponse)
    async def confirm(request: Request) -> Response:
        query = request.query_params
        token = query.get("t") or ""
        claim = endpoint.read_link(token, query.get("approval"), query.get("approver"))
        found = await endpoint.request_of(claim.approval_id)
        if found is None:
            raise endpoint.refuse(
                ENDED, "email", approval_id=claim.approval_id, decided_by=claim.approver
            )
        return HTMLResponse(confirm_page(claim, token, found[0]), headers=PAGE_HEADERS)

    @app.post("/email/decide", response_class=HTMLResponse)
    async def decide(request: Request) -> Response:
        body = await _form_body(request)
        if origin is None or request.headers.get("origin") != origin:
            raise endpoint.refuse("cross-origin form", "email")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        claim = endpoint.read_link(
            _field(form, "t") or "", _field(form, "approval"), _field(form, "approver")
        )
        verdict = await endpoint.decide_link(claim)
        return HTMLResponse(result_page(verdict_text(verdict)), headers=PAGE_HEADERS)

    return app


__all__ = ["MAX_BODY_BYTES", "create_channel_app"]
