"""gonka-lint start-up benchmark: whole processes, against ``python -c "import json, yaml"``
measured in the same run (issue 12: at most 4x).

Measures, each ``--repeat`` times, in fresh processes:

* the baseline ``python -c "import json, yaml"``;
* ``gonka-lint --version``;
* ``gonka-lint small.json`` with the compiled-catalogue cache warm (the usual start);
* ``gonka-lint small.json`` with the cache cold (the first start after an install or an edit);
* ``python -c "LintHook()"`` (building the httpx hook, warm cache).

The cache lives in a temporary directory (``GONKA_CONFORMANCE_CACHE_DIR``), never the user's.
Child processes may write and read bytecode (as after ``pip install``, which compiles the
package); ``--no-bytecode`` gives them an empty bytecode directory they cannot fill, so every
module, the standard library's included, is compiled from source on every run. One warm-up run
of each command comes first.

Run: ``python benchmarks/startup_bench.py`` (``--repeat 15`` for steadier figures).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = '{"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 256}\n'
LINT_HOOK = "from gonka_conformance.lint.hook import LintHook; LintHook()"


def _gonka_lint() -> list[str]:
    script = Path(sys.executable).with_name("gonka-lint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gonka_conformance.lint"]


def _time(command: list[str], env: dict[str, str], cwd: Path, before=None) -> float:
    if before is not None:
        before()
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--no-bytecode", action="store_true", help="children neither read nor write .pyc files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gonka-startup-") as temp:
        work = Path(temp)
        (work / "small.json").write_text(SMALL)
        cache = work / "cache"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_CONFORMANCE_")}
        env["GONKA_CONFORMANCE_CACHE_DIR"] = str(cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = str(work / "no-pyc")
        lint = _gonka_lint()
        lint_file = [*lint, "--isolated", "--no-ignore-file", "small.json"]
        clear = lambda: shutil.rmtree(cache, ignore_errors=True)  # noqa: E731
        commands: dict[str, tuple[list[str], object]] = {
            'python -c "import json, yaml"': ([sys.executable, "-c", "import json, yaml"], None),
            "gonka-lint --version": ([*lint, "--version"], None),
            "gonka-lint small.json (warm cache)": (lint_file, None),
            "gonka-lint small.json (cold cache)": (lint_file, clear),
            "LintHook() (warm cache)": ([sys.executable, "-c", LINT_HOOK], None),
        }
        for command, _ in commands.values():  # warm-up: bytecode written, cache filled
            _time(command, env, work)
        timings: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved, so a noisy neighbour hits every row alike
            for name, (command, before) in commands.items():
                timings[name].append(_time(command, env, work, before))  # type: ignore[arg-type]

    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians['python -c "import json, yaml"']
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"--repeat {args.repeat}; bytecode {'off' if args.no_bytecode else 'on'}")
    print(f"{'command':<40} {'median':>9} {'best':>9} {'ratio':>7}")
    for name, values in timings.items():
        print(f"{name:<40} {medians[name] * 1000:>7.0f}ms {min(values) * 1000:>7.0f}ms "
              f"{medians[name] / baseline:>6.2f}x")
    print("target: gonka-lint on one small file (warm) and --version at most 4x the baseline")


if __name__ == "__main__":
    main()
