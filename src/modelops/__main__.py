"""`python -m modelops ...`: the same as the `modelops` command."""

from modelops.cli import entry

if __name__ == "__main__":
    raise SystemExit(entry())
