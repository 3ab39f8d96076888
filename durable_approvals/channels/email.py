"""Mails approvers the request, reminders and escalations over SMTP, each with their own
one-time approve and deny links (stdlib ``smtplib`` in a thread)."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
import time
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate

from durable_approvals.channels.config import ChannelsConfig, EmailConfig, TlsMode
from durable_approvals.channels.keys import LinkSigner
from durable_approvals.channels.notice import ApprovalNotice, email_subject, email_text
from durable_approvals.channels.store import ChannelStore

SMTP_TIMEOUT_SECONDS = 15.0
CONFIRM_PATH = "/email/confirm"


def link_url(public_url: str, token: str) -> str:
    """The confirmation page's address for a link token."""
    return f"{public_url.rstrip('/')}{CONFIRM_PATH}?{urllib.parse.urlencode({'t': token})}"


class EmailNotifier:
    """Sends each recipient with an address one email per request, reminder and escalation."""

    def __init__(
        self, channels: ChannelsConfig, store: ChannelStore, links: LinkSigner | None
    ) -> None:
        if channels.email is None:
            raise ValueError("no email configured")
        self._email: EmailConfig = channels.email
        self._channels = channels
        self._store = store
        self._links = links

    def messages(self, notice: ApprovalNotice) -> list[tuple[str, EmailMessage]]:
        """``(sent-key, message)`` for each recipient with an address, not sent yet."""
        endpoint = self._channels.endpoint
        out = []
        for name in notice.recipients:
            contact = self._channels.contact(name)
            if contact is None or contact.email is None:
                continue
            moment = f"{notice.event}/{notice.sequence}"
            key = f"{notice.workspace_id}/{notice.approval_id}/{moment}/{contact.email}"
            if self._store.was_sent(key):
                continue
            approver = self._channels.approver_name(name) or name
            if endpoint is not None and self._links is not None:
                expires = time.time() + endpoint.link_ttl_seconds
                if notice.deadline is not None:
                    expires = min(expires, notice.deadline.timestamp())
                approve, deny = (
                    link_url(
                        endpoint.public_url,
                        self._links.link_token(
                            workspace_id=notice.workspace_id,
                            approval_id=notice.approval_id,
                            approver=approver,
                            approved=answer,
                            action_hash=notice.action_hash,
                            expires_at=expires,
                        ),
                    )
                    for answer in (True, False)
                )
            else:
                approve = deny = "(no channel endpoint configured: decide in the inbox)"
            message = EmailMessage()
            message["From"] = self._email.from_address
            message["To"] = contact.email
            message["Subject"] = email_subject(notice)
            message["Date"] = formatdate(localtime=True)
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            message["Message-ID"] = f"<{digest}@durable-approvals>"  # same on a resend
            text = email_text(notice, approve, deny)
            # Unencoded, the links stay whole (quoted-printable would fold them); servers
            # without 8BITMIME are rare, and ASCII text goes as 7bit anyway.
            message.set_content(text, cte="7bit" if text.isascii() else "8bit")
            out.append((key, message))
        return out

    async def send(self, notice: ApprovalNotice) -> int:
        """Mail the notice (mailed events only); the number of emails sent now.

        Raises:
            smtplib.SMTPException, OSError: the server refused or was unreachable.
        """
        if not notice.event.mailed:
            return 0
        pending = self.messages(notice)
        if pending:
            await asyncio.to_thread(self._send_all, pending)
        return len(pending)

    def _send_all(self, pending: list[tuple[str, EmailMessage]]) -> None:
        config = self._email
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.tls is TlsMode.SSL:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS)
        with smtp:
            if config.tls is TlsMode.STARTTLS:
                smtp.starttls(context=context)
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password.read("channels.email.password"))
            for key, message in pending:
                smtp.send_message(message)
                self._store.mark_sent(key)


__all__ = ["CONFIRM_PATH", "EmailNotifier", "link_url"]
