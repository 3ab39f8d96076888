"""Secrets of every common shape are removed from text bound for logs and the audit trail."""

import logging

import pytest

from durable_approvals import redaction
from durable_approvals.redaction import REDACTED, RedactingFilter, redact, redact_text

SECRETS = [
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-0123456789",
    "sk-cp-0123456789abcdefABCDEF",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "QURNSU5fVE9LRU49c3VwZXJzZWNyZXQxMjM0NTY3ODkw",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_known_secret_shapes_are_redacted(secret):
    redacted = redact_text(f"deploy with {secret} now")
    assert secret not in redacted
    assert REDACTED in redacted
    assert redacted.startswith("deploy with ") and redacted.endswith(" now")


def test_bearer_and_labelled_values_keep_their_label():
    text = "Authorization: Bearer abc.def-123456 and api_key=hunter2hunter2"
    redacted = redact_text(text)
    assert "abc.def-123456" not in redacted and "hunter2hunter2" not in redacted
    assert "Bearer " in redacted and "api_key=" in redacted


def test_private_key_block_is_redacted():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    assert "MIIEowIBAAKCAQEA" not in redact_text(f"key: {pem}")


def test_ordinary_text_is_untouched():
    text = "Delete 3 stale branches in repo/service; see /var/log/app.log (id 550e8400-e29b)"
    assert redact_text(text) == text


def test_nested_structures_are_redacted():
    data = {"a": ["ok", {"b": "token=abcdefgh1234"}], "n": 3}
    assert redact(data) == {"a": ["ok", {"b": f"token={REDACTED}"}], "n": 3}


def test_logging_filter_redacts_formatted_messages(caplog):
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("calling with %s", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    assert "ghp_" not in caplog.text and REDACTED in caplog.text


def test_a_registered_secret_is_redacted_whatever_its_shape():
    """The worker's own token may look like nothing the patterns know."""
    token = "plain words 42"
    assert redaction.redact_text(f"reason: {token}!") == f"reason: {token}!"
    redaction.register_secret(token)
    try:
        assert redaction.redact_text(f"reason: {token}!") == f"reason: {redaction.REDACTED}!"
        redaction.register_secret("abc")  # too short to register: it would blank out words
        assert redaction.redact_text("abcdef") == "abcdef"
    finally:
        redaction._known_secrets.discard(token)
