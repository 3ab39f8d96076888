"""RBAC activity: may this workspace ask for approvals at all?"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.messages import PermissionCheck, PermissionVerdict
from activities.rbac_policy import load_policy
from activities.workspace import require_served_workspace
from approvals.settings import Settings


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
            allowed=policy.permits(check.permission), roles=list(policy.roles)
        )
        if check.approver_group is None:
            return verdict
        members = policy.approver_groups.get(check.approver_group)
        return verdict.model_copy(
            update={"group_members": list(members) if members is not None else None}
        )
