"""`python -m modelops.registry ...` is `modelops registry ...` (see `modelops.cli`)."""

import sys

from modelops.cli import registry_main

if __name__ == "__main__":
    sys.exit(registry_main())
