"""The dev stack's verified deciders (``python -m durable_approvals.devstack
--verified-deciders``): the
approvers file, one token file per demo approver, the platform's signing key and the
workspace config that requires proof (docs/trust-model.md).

Everything is created once under the data directory and kept: a second run signs with the
same key and accepts the same tokens.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from durable_approvals.devstack.platform.approvers import public_key_path, token_hash

DEMO_APPROVERS = ("alice", "bob")
REQUIRE_KEY = "require_verified_deciders"


class StackConfigError(RuntimeError):
    """The workspace config and the stack's options disagree; the message says how to fix."""


@dataclass(frozen=True)
class VerifiedDeciders:
    """Where the stack keeps what verified deciders need."""

    data_dir: Path

    @property
    def approvers_file(self) -> Path:
        return self.data_dir / "approvers.yaml"

    @property
    def signing_key(self) -> Path:
        return self.data_dir / "signing-key.pem"

    @property
    def verify_key(self) -> Path:
        """Written by the platform at its start (``<signing key>.pub``)."""
        return public_key_path(self.signing_key)

    def token_file(self, name: str) -> Path:
        return self.data_dir / "approvers" / f"{name}.token"

    def prepare(self) -> None:
        """Create the approvers file and the token files if missing (tokens 0600)."""
        if self.approvers_file.exists():
            return
        entries = []
        for name in DEMO_APPROVERS:
            token_file = self.token_file(name)
            token_file.parent.mkdir(parents=True, exist_ok=True)
            token = secrets.token_urlsafe(24)
            descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
                sink.write(token + "\n")
            entries.append({"name": name, "token_sha256": token_hash(token)})
        self.approvers_file.write_text(
            "# Written by the dev stack: the demo approvers (tokens in approvers/*.token).\n"
            + yaml.safe_dump({"approvers": entries}, sort_keys=False),
            encoding="utf-8",
        )


def _read_config(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise StackConfigError(f"cannot read {path}: {error}") from error
    return loaded if isinstance(loaded, dict) else {}


def reconcile_workspace_config(path: Path, *, verified: bool) -> None:
    """Make the workspace config (``RBAC_CONFIG_PATH``) agree with ``--verified-deciders``.

    With it, a missing file is written with ``require_verified_deciders: true``. A file
    that says otherwise is never rewritten: the stack refuses to start instead, since a
    platform that signs nothing under a config that requires proof takes no decision.

    Raises:
        StackConfigError: the file and the option disagree, or the file is unreadable.
    """
    config = _read_config(path)
    required = config is not None and config.get(REQUIRE_KEY) is True
    if verified and config is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Written by the dev stack (--verified-deciders): only decisions the platform\n"
            "# signed for an authenticated approver are taken (docs/trust-model.md).\n"
            f"{REQUIRE_KEY}: true\n",
            encoding="utf-8",
        )
    elif verified and not required:
        raise StackConfigError(
            f"{path} does not set '{REQUIRE_KEY}: true': add it, or delete the file "
            "and the stack writes one"
        )
    elif not verified and required:
        raise StackConfigError(
            f"{path} requires verified deciders: start the stack with --verified-deciders, "
            f"or take '{REQUIRE_KEY}' out of the file (without the option the platform "
            "signs nothing and every decision would be refused)"
        )
