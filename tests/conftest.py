import sys
from pathlib import Path

# tests/ helpers (goldens loader) are imported as plain modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))
