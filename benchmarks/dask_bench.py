"""Lint on Dask: requests per second with 1 and 2 workers of a ``distributed.LocalCluster``,
against the single-process library path on the same JSON Lines, measured in one run.

The corpus is ``lint_bench.typical_requests`` (agent request shapes, some clean, some with
rejected or stripped fields). The ratios printed are the speed-up of 1 and 2 workers over
one process; on a 2-core machine 2 workers approach, and cannot pass, 2×.

Run: ``python benchmarks/dask_bench.py [--requests 20000]`` (needs the ``dask`` extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dask.bag as db
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from lint_bench import typical_requests  # noqa: E402

from gonka_conformance.lint.on_dask import lint_bag, lint_lines, statistics, statistics_of_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.jsonl"
        path.write_bytes(typical_requests(args.requests))
        lint_lines(path.read_text().splitlines()[:50])  # warm the catalogue and plans, as workers do
        started = time.perf_counter()
        single = statistics_of_results(lint_lines(path.read_text().splitlines()))
        baseline = time.perf_counter() - started
        print(f"single process: {args.requests / baseline:,.0f} requests/s ({baseline:.2f} s)")
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                client.run(lint_lines, ['{"messages":[{"role":"user","content":"hi"}]}'])  # warm each worker
                bag = db.read_text(str(path), blocksize=2**20)
                started = time.perf_counter()
                merged = statistics(lint_bag(bag)).compute()
                elapsed = time.perf_counter() - started
            assert merged.to_json() == single.to_json(), "the Dask result differs from the single-process one"
            print(f"{workers} worker(s): {args.requests / elapsed:,.0f} requests/s ({elapsed:.2f} s), "
                  f"{baseline / elapsed:.2f}x the single process, {bag.npartitions} partitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
