"""Running the harness's CLI from integration tests."""

from __future__ import annotations

import json
import subprocess
import sys


def run_bisect(tmp_path, scenario: str, *refs: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`harness bisect SCENARIO ...refs` through the real CLI, with its JSON result."""
    out = tmp_path / "bisect.json"
    argv = [sys.executable, "-m", "harness", "bisect", scenario, *refs, "--report-json", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    assert out.is_file(), proc.stderr[-3000:]
    return proc, json.loads(out.read_text())
