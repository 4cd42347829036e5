"""The reliability suite shares the integration tier's helpers (tests/integration/cli_helpers.py)
and the root conftest's fixtures (an engine, a Kubespray clone)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
