"""``python -m gonka_conformance.lint`` is ``gonka-lint``."""

import sys

from .cli import main

sys.exit(main())
