"""Time the live suite's embedded run and count its tokens, against a baseline measured in the
same run.

    python benchmarks/live_bench.py [--rounds 3] [--tier cheap]

Each round runs ``gonka-conformance run -q`` (embedded reference gateway, its four models, the
cheap tier by default) as users call it, in a fresh process, and a bare
``python -c "import pytest"`` next to it. Printed: the wall and CPU time of both (medians),
the ratio run/baseline, and the tokens the run spent with what sending every case alone would
have cost (report.json ``tokens``). The machine may be shared: compare ratios, not seconds.
Targets (issue 12): wall time <= 5 s on the 2-core reference machine; tokens <= 8,000.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN_TARGET = 8000
WALL_TARGET = 5.0  # seconds, on the 2-core reference machine


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tier", choices=("cheap", "full"), default="cheap")
    parser.add_argument("--no-bytecode", action="store_true", help="children neither read nor write .pyc files")
    args = parser.parse_args()
    # As after `pip install` (which compiles the package): children may write and read bytecode,
    # and one warm-up run of each command writes it (like startup_bench.py).
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    baseline_cmd = [sys.executable, "-c", "import pytest"]
    runs: list[tuple[float, float]] = []
    bases: list[tuple[float, float]] = []
    tokens: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        report_dir = Path(scratch) / "report"
        run_cmd = [sys.executable, "-m", "gonka_conformance.cli", "run", "-q", "--tier", args.tier,
                   "--report-dir", str(report_dir)]
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "no-pyc")
        for command in (baseline_cmd, run_cmd):
            timed(command, env)  # warm-up
        for _ in range(max(1, args.rounds)):
            wall, cpu, _done = timed(baseline_cmd, env)
            bases.append((wall, cpu))
            wall, cpu, done = timed(run_cmd, env)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                return done.returncode
            runs.append((wall, cpu))
            tokens = json.loads((report_dir / "report.json").read_text())["tokens"]
    run_wall, run_cpu = (statistics.median(x[i] for x in runs) for i in (0, 1))
    base_wall, base_cpu = (statistics.median(x[i] for x in bases) for i in (0, 1))
    print(f"embedded run ({args.tier} tier), median of {len(runs)}: wall {run_wall:.2f} s, cpu {run_cpu:.2f} s")
    print(f"baseline `python -c 'import pytest'`:  wall {base_wall:.2f} s, cpu {base_cpu:.2f} s")
    print(f"ratio run/baseline: wall {run_wall / base_wall:.1f}x, cpu {run_cpu / base_cpu:.1f}x")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wall target <= {WALL_TARGET:g} s: {'met' if run_wall <= WALL_TARGET else 'NOT met'} ({run_wall:.2f} s)")
    spent = int(tokens.get("spent", 0))  # type: ignore[arg-type]
    print(f"tokens spent {spent} (target <= {TOKEN_TARGET}: {'met' if spent <= TOKEN_TARGET else 'NOT met'}); sending every case alone: about "
          f"{tokens.get('naive_estimate')} (saved about {tokens.get('saved_estimate')}); per model {tokens.get('by_model')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
