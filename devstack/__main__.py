"""``python -m durable_approvals.devstack``: the whole stack in the foreground."""

import sys

from durable_approvals.devstack.stack import main

if __name__ == "__main__":
    sys.exit(main())
