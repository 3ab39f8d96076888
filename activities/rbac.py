"""RBAC activity: may this workspace ask for approvals at all?"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

from durable_approvals.activities.messages import PermissionCheck, PermissionVerdict
from durable_approvals.activities.rbac_policy import RbacPolicy, load_policy
from durable_approvals.activities.workspace import require_served_workspace
from durable_approvals.proof import read_key_text
from durable_approvals.settings import Settings

logger = logging.getLogger(__name__)


def _verify_key(settings: Settings) -> str | None:
    """PLATFORM_VERIFY_KEY as a key text; unset or unusable: ``None`` (one log line), and a
    workspace that requires verified deciders then takes no decision at all."""
    if not settings.platform_verify_key:
        return None
    try:
        return read_key_text(settings.platform_verify_key)
    except ValueError as error:
        logger.warning("%s: no decision can be verified", error)
        return None


def _channel_key(policy: RbacPolicy) -> str | None:
    """The channel endpoint's public key the config names; unusable: ``None`` (one log
    line), and channel decisions are then not verified."""
    if policy.channel_verify_key is None:
        return None
    try:
        return read_key_text(policy.channel_verify_key)
    except ValueError:
        logger.warning("channels.verify_key is neither a public key nor a file holding one")
        return None


class RbacActivities:
    """Reads the workspace's ``config.yaml`` on every check: role changes apply at once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn
    async def check_permission(self, check: PermissionCheck) -> PermissionVerdict:
        """Whether the workspace's roles grant ``check.permission``; unreadable config: defaults."""
        require_served_workspace(self._settings, check.workspace_id)
        policy = await asyncio.to_thread(load_policy, self._settings.rbac_config_path)
        verdict = PermissionVerdict(
            allowed=policy.permits(check.permission),
            roles=list(policy.roles),
            expire_retry_seconds=self._settings.expire_retry_for,
        )
        key = await asyncio.to_thread(_verify_key, self._settings)
        if policy.require_verified_deciders or key is not None:  # else: today's verdict
            verdict = verdict.model_copy(
                update={
                    "require_verified_deciders": policy.require_verified_deciders,
                    "verify_key": key,
                }
            )
        channel_key = await asyncio.to_thread(_channel_key, policy)
        if channel_key is not None:
            verdict = verdict.model_copy(update={"channel_verify_key": channel_key})
        if policy.notify_channels:
            verdict = verdict.model_copy(update={"notify_channels": True})
        if check.approver_group is None:
            return verdict
        members = policy.approver_groups.get(check.approver_group)
        return verdict.model_copy(
            update={"group_members": list(members) if members is not None else None}
        )
