import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# tests/ helpers (goldens loader) are imported as plain modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The compiled-catalogue cache never touches the user's cache directory from a test run: one
# fresh directory per run (child processes inherit it), removed at exit.
if not os.environ.get("GONKA_CONFORMANCE_CACHE_DIR"):
    os.environ["GONKA_CONFORMANCE_CACHE_DIR"] = tempfile.mkdtemp(prefix="gonka-cache-")
    atexit.register(shutil.rmtree, os.environ["GONKA_CONFORMANCE_CACHE_DIR"], True)
