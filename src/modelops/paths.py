"""Where the project's bundled data and configuration live.

Found once, in this order: `$MODELOPS_ROOT`; the nearest folder above the working directory
that holds `configs/train.json`; the nearest such folder above the installed package (an
editable install from a clone). A wheel installed elsewhere needs `MODELOPS_ROOT` or its own
`--data` and `--config`; the error says so.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from modelops.errors import ConfigError

_MARKER = Path("configs") / "train.json"


@cache
def root() -> Path:
    """The project folder: the one that holds `configs/` and `data/`."""
    if env := os.environ.get("MODELOPS_ROOT"):
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            if (d / _MARKER).is_file():
                return d
    raise ConfigError(
        f"cannot find the modelops project folder (one holding {_MARKER}) above "
        f"{Path.cwd()}; set MODELOPS_ROOT to a clone of the repository"
    )


def data_dir() -> Path:
    return root() / "data"


def configs_dir() -> Path:
    return root() / "configs"


def default_config() -> Path:
    return root() / _MARKER
