"""Benchmark: how long a `jobland` command takes to start, as a ratio to a bare Python start in the same run.

    python bench/startup.py [--runs 5] [--database-url URL]

Times `jobland --help` and `jobland threads` against the
floor `python -c pass`, each the median of --runs runs in fresh processes, and writes the numbers to
bench/results/startup.json. `threads` needs a database: --database-url, DATABASE_URL, or the embedded one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "floor: python -c pass": [sys.executable, "-c", "pass"],
    "jobland --help": [sys.executable, "-m", "jobland", "--help"],
    "jobland threads": [sys.executable, "-m", "jobland", "threads"],
}


def median_seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLAND_")}
        env["JOBLAND_HOME"] = home
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        subprocess.run(COMMANDS["jobland threads"], env=env, check=True, capture_output=True)  # tables, caches
        results = {name: median_seconds(command, env, args.runs) for name, command in COMMANDS.items()}
    floor = results["floor: python -c pass"]
    for name, seconds in results.items():
        print(f"{name:<24} {seconds:6.2f} s  {seconds / floor:5.1f}x the floor")
    out = ROOT / "bench" / "results" / "startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "seconds": results}, indent=2))


if __name__ == "__main__":
    main()
