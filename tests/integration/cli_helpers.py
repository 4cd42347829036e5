"""Running the harness's CLI from integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_with_report_json(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 3600
) -> tuple[subprocess.CompletedProcess, dict]:
    """`harness ARGS --report-json FILE` through the real CLI, with the JSON it wrote."""
    out = tmp_path / "result.json"
    argv = [sys.executable, "-m", "harness", *args, "--report-json", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    assert out.is_file(), proc.stderr[-3000:]
    return proc, json.loads(out.read_text())
