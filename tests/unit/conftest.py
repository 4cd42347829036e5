"""Unit-test setup: make the scenarios' shared host-check parsers importable.

Molecule's verifier puts scenarios/shared on sys.path through
scenarios/conftest.py; the unit tests do the same so `import checks` works.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "scenarios" / "shared"

if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))
