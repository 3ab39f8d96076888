"""``python -m durable_approvals.cli``: the ``approvals`` command."""

from durable_approvals.cli import main

main()
