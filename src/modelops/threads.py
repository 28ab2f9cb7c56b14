"""How many threads a process predicts with: the cores it may run on, shared with whatever
runs beside it on the same machine.

Search tasks fit every member on one thread (Metaflow's local runtime runs them side by
side), and the boosters and forests keep that `n_jobs` in their pickle; a scoring process
sets it again for its own machine (`modelops.estimators.predict_threads`).
"""

from __future__ import annotations

import os

# Metaflow sets this on every task it runs on Kubernetes or AWS Batch; unset or "local" when
# the tasks of a foreach run as processes of one machine
RUNTIME_ENV = "METAFLOW_RUNTIME_ENVIRONMENT"


def cores() -> int:
    """The cores this process may run on (a container's or a Metaflow `@resources` limit)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def on_one_machine() -> bool:
    """Whether a foreach's tasks share this machine (the local runtime), not a worker each."""
    return os.environ.get(RUNTIME_ENV, "local") == "local"


def shard_threads(shards: int) -> int:
    """Threads for one of a foreach's `shards` tasks: every core on its own remote worker;
    locally the cores divided among the tasks that run at once (at most one per core), since
    OpenMP boosters slow down badly when their threads outnumber the cores."""
    if not on_one_machine():
        return cores()
    return max(1, cores() // max(1, min(shards, cores())))
