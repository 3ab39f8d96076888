"""The previous release's wheel and its manifest, for tests/test_upgrade.py (docs/upgrading.md)."""
