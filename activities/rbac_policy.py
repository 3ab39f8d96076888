"""The workspace's RBAC policy: which roles may perform which actions (no I/O but the read)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from durable_approvals.models import MAX_NAME_CHARS, NAME_CONTROL_CHARS

ALL_ACTIONS = "*"
DEFAULT_ROLES: tuple[str, ...] = ("operator",)

BUILTIN_ROLE_ACTIONS: Mapping[str, frozenset[str]] = {
    "admin": frozenset({ALL_ACTIONS}),
    "operator": frozenset({"delegate", "approve", "memory.read", "memory.write"}),
    "read-only": frozenset({"memory.read"}),
    "no-delegation": frozenset({"approve", "memory.read", "memory.write"}),
    "no-approval": frozenset({"delegate", "memory.read", "memory.write"}),
    "memory-readonly": frozenset({"memory.read"}),
}


@dataclass(frozen=True)
class RbacPolicy:
    """Roles in the order they are checked, and per-role overrides of the built-in sets."""

    roles: tuple[str, ...] = DEFAULT_ROLES
    allowed_actions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    approver_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``approver_groups: {name: [members]}`` of the config (docs/policies/n-of-m.md)."""
    require_verified_deciders: bool = False
    """``require_verified_deciders: true`` in the config: only decisions carrying the
    platform's valid proof are taken (docs/trust-model.md); anything else means false."""
    notify_channels: bool = False
    """``channels:`` names ``slack`` or ``email`` (docs/channels.md)."""
    channel_verify_key: str | None = None
    """``channels.verify_key``: the channel endpoint's public key, or the path of a file
    holding it (docs/channels.md); read by the RBAC activity."""

    def permits(self, action: str) -> bool:
        for role in self.roles:
            if role == "admin":
                return True
            actions = self.allowed_actions.get(role, BUILTIN_ROLE_ACTIONS.get(role, frozenset()))
            if action in actions or ALL_ACTIONS in actions:
                return True
        return False


def _is_name(value: str) -> bool:
    """A member name the models take (``NameText``), not blank."""
    return (
        bool(value.strip())
        and len(value) <= MAX_NAME_CHARS
        and not NAME_CONTROL_CHARS.search(value)
    )


def approver_groups_from_config(config: Any) -> dict[str, tuple[str, ...]]:
    """The ``approver_groups`` of a parsed ``config.yaml``: a group that is not a list of
    names is left out (a request naming it fails as an unknown group); a member that is
    no valid name (blank, over 200 characters, a control character) is left out."""
    raw = config.get("approver_groups") if isinstance(config, Mapping) else None
    groups: dict[str, tuple[str, ...]] = {}
    if isinstance(raw, Mapping):
        for name, members in raw.items():
            if isinstance(members, Sequence) and not isinstance(members, str):
                groups[str(name)] = tuple(
                    str(m) for m in members if isinstance(m, str | int) and _is_name(str(m))
                )
    return groups


def policy_from_config(config: Any) -> RbacPolicy:
    """The policy of a parsed ``config.yaml``; malformed means the defaults, but an explicit
    empty role list is kept (it grants nothing)."""
    groups = approver_groups_from_config(config)
    verified = isinstance(config, Mapping) and config.get("require_verified_deciders") is True
    channels = config.get("channels") if isinstance(config, Mapping) else None
    channel_key = channels.get("verify_key") if isinstance(channels, Mapping) else None
    base = RbacPolicy(
        approver_groups=groups,
        require_verified_deciders=verified,
        channel_verify_key=channel_key if isinstance(channel_key, str) else None,
        notify_channels=isinstance(channels, Mapping)
        and any(channels.get(name) for name in ("slack", "email")),
    )
    rbac = config.get("rbac") if isinstance(config, Mapping) else None
    if not isinstance(rbac, Mapping):
        return base
    raw_roles = rbac.get("roles", list(DEFAULT_ROLES))
    if not isinstance(raw_roles, Sequence) or isinstance(raw_roles, str):
        return base
    roles = tuple(str(role) for role in raw_roles)
    overrides: dict[str, frozenset[str]] = {}
    raw_allowed = rbac.get("allowed_actions")
    if isinstance(raw_allowed, Mapping):
        for role, actions in raw_allowed.items():
            if isinstance(actions, Sequence) and not isinstance(actions, str):
                overrides[str(role)] = frozenset(str(a) for a in actions)
    return replace(base, roles=roles, allowed_actions=overrides)


def load_policy(config_path: Path) -> RbacPolicy:
    """Read the policy from ``config_path``; unreadable or invalid YAML means the defaults."""
    try:
        text = config_path.read_text(encoding="utf-8")
        return policy_from_config(yaml.safe_load(text))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return RbacPolicy()
