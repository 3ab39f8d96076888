"""Builds the channel endpoint for one deployment: its config, keys, store, audit trail,
and the one decision path over a Temporal client."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from durable_approvals import client as approvals
from durable_approvals.audit_log import AuditLog
from durable_approvals.channels.config import ChannelConfigError, ChannelsConfig, load_channels
from durable_approvals.channels.endpoint import ChannelEndpoint
from durable_approvals.channels.keys import ChannelKey
from durable_approvals.channels.slack import web_client
from durable_approvals.channels.store import ChannelStore
from durable_approvals.deciding import Decider
from durable_approvals.models import Ballot, Decision, DecisionVerdict
from durable_approvals.settings import Settings


def load_endpoint_config(settings: Settings) -> ChannelsConfig:
    """The workspace's ``channels:`` section, which must configure the endpoint.

    Raises:
        ChannelConfigError: no section, no ``endpoint``, or a malformed one.
    """
    channels = load_channels(settings.rbac_config_path)
    if channels is None or channels.endpoint is None:
        raise ChannelConfigError(
            f"{settings.rbac_config_path}: no channels.endpoint section (docs/channels.md)"
        )
    return channels


def build_endpoint(settings: Settings, client: Client, channels: ChannelsConfig) -> ChannelEndpoint:
    """The endpoint deciding through ``client`` for ``settings``' deployment.

    Raises:
        ChannelConfigError: the config has no ``endpoint`` section.
    """
    if channels.endpoint is None:
        raise ChannelConfigError("channels.endpoint is required to serve the endpoint")

    async def decide(decision: Decision, attest: Any) -> DecisionVerdict:
        ballot = Ballot(
            approval_id=decision.approval_id,
            approved=decision.approved,
            decided_by=decision.decided_by,
            comment=decision.comment,
            action_hash=decision.action_hash,
            edited_args=decision.edited_args,
            by_update=True,  # the workflow checks the endpoint's proof; the platform cannot
        )
        return await Decider.with_client(client, settings, attest=attest).decide(ballot)

    async def request_of(approval_id: str) -> tuple[str, dict[str, Any] | None] | None:
        workflow_id = await approvals.waiting_workflow(client, settings, approval_id)
        if workflow_id is None:
            return None
        view = await approvals.approval_status(client, workflow_id)
        return (view.action or "", view.args)

    store = ChannelStore(channels.store_path or settings.rbac_config_path.parent / "channels.db")
    return ChannelEndpoint(
        workspace_id=settings.workspace_id,
        channels=channels,
        key=ChannelKey.load(channels.endpoint.signing_key),
        store=store,
        audit=AuditLog(settings.audit_log_path),
        decide=decide,
        request_of=request_of,
        slack_client=web_client(channels.slack) if channels.slack is not None else None,
    )


__all__ = ["build_endpoint", "load_endpoint_config"]
