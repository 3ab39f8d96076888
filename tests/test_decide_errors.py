"""``approvals decide`` errors (exit 2, one line on stderr): on the upstream contract a
decision that cannot be bound to the request's hash is not sent (issue 24), and no secret
in an error leaves the process (durable_approvals/redaction.py)."""

from __future__ import annotations

import uuid

import pytest

from durable_approvals.settings import Settings
from tests.helpers import platform_client, settings_env
from tests.test_cli import cli

ARGS = {"db": "staging", "dry_run": False}
CLOSED_PORT = "127.0.0.1:1"


async def _create(settings: Settings, **fields: object) -> str:
    async with platform_client(settings) as api:
        return await api.create_approval(
            "Drop the staging database",
            "rebuilt nightly",
            idempotency_key=f"k-{uuid.uuid4()}",
            **fields,  # type: ignore[arg-type]
        )


async def _status(settings: Settings, approval_id: str) -> str | None:
    async with platform_client(settings) as api:
        item = await api.get_approval(approval_id)
    return None if item is None else str(item["status"])


@pytest.mark.platform_modes("strict")
async def test_without_temporal_a_strict_decision_is_not_sent_unbound(dev_env, settings, platform):
    """The upstream contract carries no hash: only the workflow can bind the decision to the
    request's args. Temporal unreachable, the CLI says so and sends nothing (before: it
    fell back to the platform, printed ``approved``, and the workflow refused it)."""
    approval_id = await _create(settings, context={"args": ARGS})
    env = {**settings_env(dev_env.client, settings, "tq-none"), "TEMPORAL_ADDRESS": CLOSED_PORT}

    code, out, err = await cli(env, "decide", approval_id, "--approve", "--by", "bob")

    assert (code, out) == (2, ""), err
    [line] = err.strip().splitlines()
    assert line.startswith(f"approvals: cannot reach Temporal at {CLOSED_PORT} (TEMPORAL_ADDRESS")
    assert "the decision was not sent" in line
    assert await _status(settings, approval_id) == "pending"


async def test_an_approver_token_in_an_error_is_never_printed(
    dev_env, settings, platform, tmp_path
):
    """An approver token with a line break inside is an illegal header value: httpx's error
    quotes it, and the CLI's one line is redacted before it is printed."""
    approval_id = await _create(settings)
    secret = "Zq7" + "pLm2" + "Xw9Rt4"  # no pattern would spot it: only its registration can
    token_file = tmp_path / "approver.token"
    token_file.write_text(f"{secret}\nNk5{'vB8'}Yd3Hs6\n", encoding="utf-8")
    env = settings_env(dev_env.client, settings, "tq-none")

    code, out, err = await cli(
        env, "decide", approval_id, "--approve", "--by", "bob", "--token-file", str(token_file)
    )

    assert (code, out) == (2, ""), err
    assert len(err.strip().splitlines()) == 1 and "REDACTED" in err, err
    assert secret not in err and "Nk5vB8Yd3Hs6" not in err
    assert await _status(settings, approval_id) == "pending"
