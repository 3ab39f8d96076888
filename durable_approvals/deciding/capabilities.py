"""What the platform serves, as far as deciding goes: learned once per platform client."""

from __future__ import annotations

from dataclasses import dataclass

from durable_approvals.platform_client import PlatformClient


@dataclass(frozen=True)
class PlatformCapabilities:
    """What the platform's decide route does beyond the upstream contract.

    ``extensions``: the reference platform's [ext] routes and fields are served
    (docs/platform-modes.md); its decide route then binds a decision to the request's
    args, counts votes and refuses what the workflow would (self-approval, approver
    group, hash), so its answer is the verdict. Without them (the upstream contract) a
    decide closes the approval whatever it is: only the workflow can answer.
    """

    extensions: bool

    @property
    def answers_for_the_workflow(self) -> bool:
        """Whether a decision may go through the platform's decide route (docs/deciding.md)."""
        return self.extensions

    @classmethod
    def learned(cls, platform: PlatformClient) -> PlatformCapabilities | None:
        """What ``platform`` has shown so far (``None``: not yet known): the [ext] single-item
        route, which only a platform with the extensions serves, answered or not."""
        served = platform.has_single_item_route
        return None if served is None else cls(extensions=served)


CONTRACT = PlatformCapabilities(extensions=False)
"""The upstream contract alone (strict mode)."""
REFERENCE = PlatformCapabilities(extensions=True)
"""The reference platform with its extensions."""

__all__ = ["CONTRACT", "REFERENCE", "PlatformCapabilities"]
