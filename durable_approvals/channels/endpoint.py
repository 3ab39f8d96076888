"""The channel endpoint's logic: a Slack click or a confirmed email link becomes a decision
through the one decision path (``durable_approvals.client.decide``), signed by the endpoint,
or a refusal that is audited and decides nothing (docs/channels.md)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from durable_approvals.action_hash import ArgsError, action_hash, check_json_args
from durable_approvals.audit_log import AuditLog
from durable_approvals.channels.config import ChannelsConfig
from durable_approvals.channels.keys import ChannelKey, LinkClaim, LinkError, LinkSigner
from durable_approvals.channels.notice import APPROVE, APPROVE_EDITS, DENY
from durable_approvals.channels.store import ChannelStore
from durable_approvals.channels.verdicts import verdict_text
from durable_approvals.deciding import DecisionTimeoutError
from durable_approvals.models import (
    AuditEntry,
    Decision,
    DecisionVerdict,
    VerdictOutcome,
    is_identifier,
)

logger = logging.getLogger(__name__)

ENDED = "approval has ended"
BAD_SIGNATURE = "bad or stale Slack signature"
REPLAYED = "replayed request"
UNKNOWN_SLACK_USER = "unknown Slack user"
UNKNOWN_APPROVER = "link for an unknown approver"
OTHER_APPROVAL = "link for another approval"
OTHER_APPROVER = "link for another approver"
OTHER_WORKSPACE = "link for another workspace"
USED_LINK = "link already used"
MALFORMED = "malformed request"
NO_WORKER = "no worker answered in time; nothing was decided, try again"
"""Refusal reasons of the endpoint itself (the workflow's own come in the verdict)."""


Decide = Callable[[Decision, Callable[[Decision], Decision]], Awaitable[DecisionVerdict]]
"""The one decision path: send ``decision``, completed by the attest function, and answer
the verdict (``durable_approvals.client.decide``)."""
RequestOf = Callable[[str], Awaitable[tuple[str, dict[str, Any] | None] | None]]
"""The waiting request's action and args for an approval id, or ``None``."""


@dataclass
class Refusal(Exception):
    """A request the endpoint refuses before anything is decided."""

    reason: str
    status: int = 403
    kind: str = "refused"
    """``refused``, or ``error`` when nothing could be decided (no worker answered)."""

    @property
    def text(self) -> str:
        """What the person is shown: ``refused: self-approval``."""
        return f"{self.kind}: {self.reason}"


@dataclass(frozen=True)
class Click:
    """A verified, mapped Slack interaction."""

    approval_id: str
    approver: str
    slack_user: str
    action_id: str
    action_hash: str | None
    response_url: str | None
    trigger_id: str | None
    channel: str | None


class ChannelEndpoint:
    """The endpoint's state: config, keys, the store, the audit trail and the decide path."""

    def __init__(
        self,
        *,
        workspace_id: str,
        channels: ChannelsConfig,
        key: ChannelKey,
        store: ChannelStore,
        audit: AuditLog,
        decide: Decide,
        request_of: RequestOf,
        slack_client: WebClient | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.channels = channels
        self.key = key
        self.store = store
        self.audit = audit
        self._decide = decide
        self.request_of = request_of
        self.slack_client = slack_client
        slack = channels.slack
        self._verifier = (
            SignatureVerifier(slack.signing_secret.read("channels.slack.signing_secret"))
            if slack is not None
            else None
        )
        endpoint = channels.endpoint
        self.links = (
            LinkSigner(endpoint.link_secret.read("channels.endpoint.link_secret"))
            if endpoint is not None
            else None
        )

    # --- audit -----------------------------------------------------------------------

    def refuse(self, reason: str, channel: str, **fields: Any) -> Refusal:
        """Audit a refusal (``rejected``, ``rejected_because``) and return it to raise."""
        self._audit("rejected", channel, rejected_because=reason, **fields)
        return Refusal(reason)

    def _audit(self, outcome: str, channel: str, **fields: Any) -> None:
        entry = AuditEntry(
            event_id=f"channel/{channel}/{uuid.uuid4()}",
            timestamp=datetime.now(UTC),
            event_type="channel",
            workspace_id=self.workspace_id,
            actor=fields.get("decided_by"),
            action="approve",
            resource=str(fields.get("approval_id") or ""),
            outcome=outcome,
            trace_id=str(fields.get("approval_id") or "channel"),
            extra={"channel": channel, **{k: v for k, v in fields.items() if v is not None}},
        )
        self.audit.append(entry)

    # --- deciding ----------------------------------------------------------------------

    async def decide(
        self, decision: Decision, *, channel: str, channel_user: str
    ) -> DecisionVerdict:
        """Decide through the one path (``durable_approvals.deciding``), signed as coming
        from ``channel``. Every refusal is audited here: one the workflow's validator
        answers, or one for an approval that has ended (``late``, ``conflicting``), leaves
        nothing in its history."""

        def attest(final: Decision) -> Decision:
            named = final.model_copy(update={"channel": channel, "channel_user": channel_user})
            return self.key.sign_decision(self.workspace_id, named)

        try:
            verdict = await self._decide(decision, attest)
        except DecisionTimeoutError:
            self._audit(
                "failure",
                channel,
                approval_id=decision.approval_id,
                decided_by=decision.decided_by,
                channel_user=channel_user,
                error=NO_WORKER,
            )
            raise Refusal(NO_WORKER, 503, kind="error") from None
        if verdict.outcome is VerdictOutcome.REFUSED:
            self._audit(
                "rejected",
                channel,
                approval_id=decision.approval_id,
                decided_by=decision.decided_by,
                channel_user=channel_user,
                rejected_because=verdict.reason,
            )
        return verdict

    # --- Slack ---------------------------------------------------------------------------

    def verify_slack(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        """Slack's signature (signing secret, 5-minute window), then replay.

        Raises:
            Refusal: forged, stale or replayed (audited).
        """
        if self._verifier is None:
            raise self.refuse("Slack is not configured", "slack")
        if not self._verifier.is_valid(body, timestamp, signature):
            self._audit("rejected", "slack", rejected_because=BAD_SIGNATURE)
            raise Refusal(BAD_SIGNATURE, 401)
        if not self.store.first_use(f"slack-signature:{signature}"):
            raise self.refuse(REPLAYED, "slack")

    def click(self, payload: dict[str, Any]) -> Click:
        """The approval, approver and answer of a ``block_actions`` payload.

        Raises:
            Refusal: malformed, or a Slack user the registry does not know (audited).
        """
        try:
            user = str(payload["user"]["id"])
            action = payload["actions"][0]
            action_id = str(action["action_id"])
            value = json.loads(action["value"])
            approval_id = str(value["a"])
            hashed = value.get("h")
        except (KeyError, IndexError, TypeError, ValueError):
            raise self.refuse(MALFORMED, "slack") from None
        if action_id not in (APPROVE, DENY, APPROVE_EDITS) or not is_identifier(approval_id):
            raise self.refuse(MALFORMED, "slack", channel_user=user)
        approver = self.channels.approver_for_slack_user(user)
        if approver is None:
            raise self.refuse(
                UNKNOWN_SLACK_USER, "slack", approval_id=approval_id, channel_user=user
            )
        if not self.store.first_use(f"slack-action:{payload.get('trigger_id') or uuid.uuid4()}"):
            raise self.refuse(REPLAYED, "slack", approval_id=approval_id, channel_user=user)
        channel = payload.get("channel") or {}
        return Click(
            approval_id=approval_id,
            approver=approver,
            slack_user=user,
            action_id=action_id,
            action_hash=hashed if isinstance(hashed, str) else None,
            response_url=payload.get("response_url"),
            trigger_id=payload.get("trigger_id"),
            channel=channel.get("id") if isinstance(channel, dict) else None,
        )

    async def decide_click(self, click: Click) -> DecisionVerdict:
        """Approve or deny as the mapped approver, bound to the hash the button showed."""
        decision = Decision(
            approval_id=click.approval_id,
            approved=click.action_id == APPROVE,
            decided_by=click.approver,
            action_hash=click.action_hash,
        )
        return await self.decide(decision, channel="slack", channel_user=click.slack_user)

    async def edits_view(self, click: Click) -> dict[str, Any] | None:
        """The modal that edits the request's args (``None``: the approval is not waiting)."""
        found = await self.request_of(click.approval_id)
        if found is None:
            return None
        _, args = found
        metadata = {"a": click.approval_id, "h": click.action_hash, "c": click.channel}
        return {
            "type": "modal",
            "callback_id": APPROVE_EDITS,
            "private_metadata": json.dumps(metadata),
            "title": {"type": "plain_text", "text": "Approve with edits"},
            "submit": {"type": "plain_text", "text": "Approve"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "args",
                    "label": {"type": "plain_text", "text": "Args (JSON object)"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "args",
                        "multiline": True,
                        "initial_value": json.dumps(args or {}, indent=2, sort_keys=True),
                    },
                }
            ],
        }

    async def decide_edits(self, payload: dict[str, Any]) -> tuple[DecisionVerdict, str | None]:
        """A submitted edits modal: approve the edited args as the mapped approver.

        Returns:
            The verdict and the Slack channel the click came from (to tell the clicker).

        Raises:
            Refusal: malformed, unknown user, or args that are not a JSON object.
        """
        try:
            user = str(payload["user"]["id"])
            metadata = json.loads(payload["view"]["private_metadata"])
            approval_id = str(metadata["a"])
            text = payload["view"]["state"]["values"]["args"]["args"]["value"]
            edited = check_json_args(json.loads(text), "edited args")
        except (KeyError, TypeError, ValueError, ArgsError):
            raise self.refuse(MALFORMED, "slack") from None
        approver = self.channels.approver_for_slack_user(user)
        if approver is None or not is_identifier(approval_id):
            raise self.refuse(UNKNOWN_SLACK_USER, "slack", channel_user=user)
        found = await self.request_of(approval_id)
        if found is None:
            raise self.refuse(ENDED, "slack", approval_id=approval_id, channel_user=user)
        action, _ = found
        decision = Decision(
            approval_id=approval_id,
            approved=True,
            decided_by=approver,
            action_hash=action_hash(self.workspace_id, action, edited),
            edited_args=edited,
        )
        verdict = await self.decide(decision, channel="slack", channel_user=user)
        channel = metadata.get("c")
        return verdict, channel if isinstance(channel, str) else None

    # --- email -----------------------------------------------------------------------------

    def read_link(self, token: str, approval_id: str | None, approver: str | None) -> LinkClaim:
        """The claim of a link whose page or form names ``approval_id`` and ``approver``.

        Raises:
            Refusal: malformed, altered, expired, for another approval, approver or
                workspace, or an approver the registry no longer has (audited).
        """
        if self.links is None:
            raise self.refuse("email links are not configured", "email")
        try:
            claim = self.links.read_link(token, now=time.time())
        except LinkError as error:
            raise self.refuse(str(error), "email", approval_id=approval_id) from None
        fields = {"approval_id": claim.approval_id, "decided_by": claim.approver}
        if claim.workspace_id != self.workspace_id:
            raise self.refuse(OTHER_WORKSPACE, "email", **fields)
        if approval_id is not None and approval_id != claim.approval_id:
            raise self.refuse(OTHER_APPROVAL, "email", **fields)
        if approver is not None and approver != claim.approver:
            raise self.refuse(OTHER_APPROVER, "email", **fields)
        contact = self.channels.contact(claim.approver)
        if contact is None or contact.email is None:
            raise self.refuse(UNKNOWN_APPROVER, "email", **fields)
        return claim

    def email_of(self, claim: LinkClaim) -> str:
        contact = self.channels.contact(claim.approver)
        return contact.email if contact is not None and contact.email else ""

    async def decide_link(self, claim: LinkClaim) -> DecisionVerdict:
        """Use a link once: decide as its approver, bound to the hash it names.

        Raises:
            Refusal: the link was used before (audited), or the approval has ended.
        """
        address = self.email_of(claim)
        if not self.store.first_use(f"link:{claim.nonce}"):
            raise self.refuse(
                USED_LINK,
                "email",
                approval_id=claim.approval_id,
                decided_by=claim.approver,
                channel_user=address,
            )
        decision = Decision(
            approval_id=claim.approval_id,
            approved=claim.approved,
            decided_by=claim.approver,
            action_hash=claim.action_hash,
        )
        return await self.decide(decision, channel="email", channel_user=address)


__all__ = [
    "BAD_SIGNATURE",
    "ENDED",
    "MALFORMED",
    "OTHER_APPROVAL",
    "OTHER_APPROVER",
    "REPLAYED",
    "UNKNOWN_SLACK_USER",
    "USED_LINK",
    "ChannelEndpoint",
    "Click",
    "Refusal",
    "verdict_text",
]
