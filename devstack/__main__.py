"""``python -m devstack``: the whole stack in the foreground (see :mod:`devstack.stack`)."""

import sys

from devstack.stack import main

if __name__ == "__main__":
    sys.exit(main())
