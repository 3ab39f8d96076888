"""The email links' HTML pages: a confirmation form (a GET decides nothing) and the verdict."""

from __future__ import annotations

import html

from durable_approvals.channels.keys import LinkClaim

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
"""Sent with every page: no framing, no scripts, forms only to ourselves, and the link's
token never leaves in a Referer."""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        "button{font-size:1.1em;padding:.4em 1.2em}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>"
    )


def confirm_page(claim: LinkClaim, token: str, action: str | None) -> str:
    """The confirmation form; its POST (same origin) decides."""
    answer = "Approve" if claim.approved else "Deny"
    what = f"<p><b>{html.escape(action)}</b></p>" if action else ""
    fields = "".join(
        f"<input type=hidden name={name} value='{html.escape(value, quote=True)}'>"
        for name, value in (
            ("t", token),
            ("approval", claim.approval_id),
            ("approver", claim.approver),
        )
    )
    return _page(
        f"{answer} approval {claim.approval_id}?",
        f"{what}<p>You are deciding as <b>{html.escape(claim.approver)}</b>.</p>"
        f"<form method=post action=/email/decide>{fields}"
        f"<button type=submit>{answer}</button></form>",
    )


def result_page(text: str) -> str:
    """The verdict (or refusal) as a page: ``counted: 1 of 2``, ``refused: expired link``."""
    return _page("Approval", f"<p id=verdict>{html.escape(text)}</p>")


__all__ = ["PAGE_HEADERS", "confirm_page", "result_page"]
