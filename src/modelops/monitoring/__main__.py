"""`python -m modelops.monitoring ...` is `modelops monitor ...` (see `modelops.cli`)."""

import sys

from modelops.cli import monitor_main

if __name__ == "__main__":
    sys.exit(monitor_main())
