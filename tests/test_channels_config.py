"""The channels' config section, keys, links and the proof rule for channel decisions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from durable_approvals.activities.rbac_policy import policy_from_config
from durable_approvals.channels.config import ChannelConfigError, SecretRef, channels_from_config
from durable_approvals.channels.keys import ChannelKey, LinkError, LinkSigner
from durable_approvals.channels.store import ChannelStore, SlackMessage
from durable_approvals.models import Decision
from durable_approvals.redaction import redact_text
from durable_approvals.workflows.proof_check import ProofCheck

BASE = {
    "slack": {
        "bot_token": {"env": "T_SLACK_BOT"},
        "signing_secret": {"env": "T_SLACK_SIGNING"},
        "channel": "C0APPROVALS",
        "group_channels": {"ops": "C0OPS"},
    },
    "email": {"host": "127.0.0.1", "port": 2525, "from_address": "approvals@example.com"},
    "approvers": {
        "alice": {"slack": "U0ALICE", "email": "alice@example.com"},
        "Bob": {"slack": "U0BOB"},
    },
}


def test_section_parses_and_maps_slack_users() -> None:
    config = channels_from_config({"channels": BASE})
    assert config is not None and config.slack is not None
    assert config.approver_for_slack_user("U0ALICE") == "alice"
    assert config.approver_for_slack_user("U0MALLORY") is None
    assert config.approver_name("bob") == "Bob"
    assert channels_from_config({"rbac": {}}) is None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"slack": {**BASE["slack"], "channel": "not a channel"}}, "channels.slack.channel"),
        ({"email": {"host": "h", "from_address": "nobody"}}, "channels.email.from_address"),
        ({"approvers": {"a": {"slack": "U1X"}, "b": {"slack": "U1X"}}}, "mapped twice"),
        ({"approvers": {"alice": {}, "ALICE": {}}}, "listed twice"),
        ({"slack": {**BASE["slack"], "bot_token": {}}}, "exactly one of file or env"),
        ({"surprise": 1}, "channels.surprise"),
    ],
)
def test_malformed_section_is_one_clear_error(change: dict[str, object], where: str) -> None:
    with pytest.raises(ChannelConfigError, match=where):
        channels_from_config({"channels": {**BASE, **change}})


def test_secret_read_from_file_is_registered_for_redaction(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("plain-words-secret\n")
    assert SecretRef(file=path).read("slack.signing_secret") == "plain-words-secret"
    assert "plain-words-secret" not in redact_text("got plain-words-secret here")
    with pytest.raises(ChannelConfigError, match="cannot read") as error:
        SecretRef(file=tmp_path / "absent").read("smtp password")
    assert "plain-words" not in str(error.value)


def test_links_bind_their_claim_and_refuse_alteration_and_expiry() -> None:
    signer = LinkSigner("link-secret-for-tests")
    now = time.time()
    token = signer.link_token(
        workspace_id="ws",
        approval_id="a-1",
        approver="alice",
        approved=True,
        action_hash=None,
        expires_at=now + 60,
    )
    claim = signer.read_link(token, now=now)
    assert (claim.approval_id, claim.approver, claim.approved) == ("a-1", "alice", True)
    body, mac = token.split(".")
    with pytest.raises(LinkError, match="altered"):
        signer.read_link(
            body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac, now=now
        )
    with pytest.raises(LinkError, match="altered"):
        LinkSigner("another-secret").read_link(token, now=now)
    with pytest.raises(LinkError, match="expired"):
        signer.read_link(token, now=now + 120)
    with pytest.raises(LinkError, match="malformed"):
        signer.read_link("no-dot-here", now=now)


def test_channel_signed_decisions_verify_only_with_the_channel_key(tmp_path: Path) -> None:
    key = ChannelKey.load(tmp_path / "channel-key.pem")
    assert (tmp_path / "channel-key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "channel-key.pem.pub").read_text().strip() == key.public_key
    decision = Decision(
        approval_id="a-1",
        approved=True,
        decided_by="alice",
        channel="slack",
        channel_user="U0ALICE",
    )
    signed = key.sign_decision("ws", decision)
    check = ProofCheck(workspace_id="ws", required=True, channel_key=key.public_key)
    assert check(signed) is None
    # Another channel user, another decider, another workspace, no channel key: refused.
    assert check(signed.model_copy(update={"channel_user": "U0MALLORY"})) == "unverified"
    assert check(signed.model_copy(update={"decided_by": "bob"})) == "unverified"
    assert ProofCheck(workspace_id="other", required=True, channel_key=key.public_key)(signed)
    assert ProofCheck(workspace_id="ws", required=True, verify_key=key.public_key)(signed)
    # A channel proof relabelled as a platform decision does not verify as the platform's.
    plain = signed.model_copy(update={"channel": None, "channel_user": None})
    assert ProofCheck(workspace_id="ws", required=True, verify_key=key.public_key)(plain)
    other = ChannelKey.load(tmp_path / "other.pem")
    forged = other.sign_decision(
        "ws", decision.model_copy(update={"decided_at": datetime.now(UTC)})
    )
    assert check(forged) == "unverified"


def test_policy_reads_the_channel_verify_key() -> None:
    policy = policy_from_config({"channels": {"verify_key": "abc"}, "rbac": {"roles": ["admin"]}})
    assert policy.channel_verify_key == "abc" and policy.roles == ("admin",)
    assert policy_from_config({"channels": "nonsense"}).channel_verify_key is None


def test_store_remembers_messages_and_refuses_replays(tmp_path: Path) -> None:
    store = ChannelStore(tmp_path / "channels.db")
    assert store.slack_message("a-1") is None
    store.remember_slack_message("a-1", SlackMessage("C1", "1.000001"))
    store.remember_slack_message("a-1", SlackMessage("C1", "2.000002"))  # first one stays
    assert ChannelStore(tmp_path / "channels.db").slack_message("a-1") == SlackMessage(
        "C1", "1.000001"
    )
    assert store.first_use("sig-1") and not store.first_use("sig-1")
    assert not store.was_sent("k") and (store.mark_sent("k") or store.was_sent("k"))
