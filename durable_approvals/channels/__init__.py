"""Notification channels and deciding from them: Slack and email (docs/channels.md).

Needs the ``channels`` extra (``slack_sdk``) and the ``worker`` extra (YAML, Ed25519).
"""
