import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# tests/ helpers (goldens loader) are imported as plain modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The compiled-catalogue cache never touches the user's cache directory from a test run: one
# fresh directory per run (child processes inherit it), removed at exit.
if not os.environ.get("GONKA_CONFORMANCE_CACHE_DIR"):
    os.environ["GONKA_CONFORMANCE_CACHE_DIR"] = tempfile.mkdtemp(prefix="gonka-cache-")
    atexit.register(shutil.rmtree, os.environ["GONKA_CONFORMANCE_CACHE_DIR"], True)

from gonka_conformance.catalogue.loader import load_catalogue  # noqa: E402  (after the cache directory is set)

# Shared constants (model and revision ids, read from the catalogue) are in models.py; the
# shared fixtures are here.


@pytest.fixture(scope="session")
def catalogue():
    """The packaged catalogue: the one object ``load_catalogue()`` keeps (models.CATALOGUE too)."""
    return load_catalogue()


def pytest_terminal_summary(terminalreporter) -> None:
    """How many vendored upstream unit-test cases ran and were skipped (tests/data/upstream)."""
    outcomes: dict[str, str] = {}
    for key in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(key, []):
            if "test_upstream_cases.py::test_upstream_case[" in getattr(report, "nodeid", ""):
                if key != "passed" or report.when == "call":  # setup and teardown also "pass"
                    outcomes[report.nodeid] = key
    if outcomes:
        counts = {key: sum(1 for v in outcomes.values() if v == key) for key in ("passed", "failed", "skipped")}
        terminalreporter.write_line(
            f"upstream unit-test cases: {len(outcomes)} vendored, {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['skipped']} skipped (reasons in tests/data/upstream)")
