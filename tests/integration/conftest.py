"""Integration tests: real containers, real Kubespray refs, through the real CLI.

Without a Docker engine or a Kubespray clone they skip, saying which.

The runs are session-scoped fixtures here, each started once and read by every test
(and module) that asserts something about it: its JSON, its JUnit, its HTML, its
artifacts. `make test` runs the modules in two lanes, one per pytest-xdist worker
(tests/conftest.py): the modules that read one run must share a lane, or the run is
made twice. What each run costs is written beside it (minutes, alone, on the 2-core
machine of the README's performance table).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import HARNESS, bisect_fix, host_sysctls, run_with_report_json

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="session")
def upgrade_matrix(tmp_path_factory, docker_engine, kubespray_clone):
    """`harness matrix -j 2` over the upgrade scenario's buggy and fixed refs (v2.27.0, v2.27.1),
    with every output: two `harness run` processes at once. About 9 minutes."""
    before = host_sysctls()
    out = tmp_path_factory.mktemp("matrix")
    argv = [
        *HARNESS, "matrix", "-j", "2", "--only", "upgrade-node-based@v2.27.0", "--only", "upgrade-node-based@v2.27.1",
        "--junit", str(out / "junit.xml"), "--markdown", str(out / "matrix.md"), "--html", str(out / "matrix.html"),
        "--report-json", str(out / "cells.json"),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=2400, check=False)
    print(proc.stdout[-4000:], proc.stderr[-3000:])
    assert (out / "cells.json").is_file(), proc.stderr[-3000:]
    cells = {cell["ref"]: cell for cell in json.loads((out / "cells.json").read_text())}
    return proc, out, cells, before


@pytest.fixture(scope="session")
def scale_run(tmp_path_factory, docker_engine, kubespray_clone):
    """`harness run scale-limit --ref 6d4714b66`: kw-3 added with scale.yml, on the fixed commit.
    About 6 minutes."""
    return run_with_report_json(tmp_path_factory.mktemp("scale"), "run", "scale-limit", "--ref", "6d4714b66")


@pytest.fixture(scope="session")
def adjacent_bisection(tmp_path_factory, docker_engine, kubespray_clone):
    """`harness bisect scale-limit --find fix --trust-ends` over two adjacent commits: 8f4b7f9f5
    (Report 2 reproduces) and its child 6d4714b66 (the fix). git knows the answer at once; with
    the ends trusted nothing runs (the long tier's bisections run their ends and probes). Seconds."""
    return bisect_fix(tmp_path_factory.mktemp("bisect"), "scale-limit", "8f4b7f9f5", "6d4714b66", "--trust-ends")


@pytest.fixture(scope="session")
def scenarios_copy(tmp_path_factory) -> Path:
    """The project's scenarios, copied: --save-scenario writes there, not into the checkout."""
    copy = tmp_path_factory.mktemp("scenarios") / "scenarios"
    shutil.copytree(SCENARIOS, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def report_2_repro(tmp_path_factory, docker_engine, kubespray_clone, scenarios_copy):
    """`harness repro` of Report 2 on its commit, saved as a scenario. About 4 minutes."""
    env = {**os.environ, "HARNESS_SCENARIOS_DIR": str(scenarios_copy)}
    return run_with_report_json(
        tmp_path_factory.mktemp("r2"),
        "repro",
        str(REPORTS / "report-2-scale-main-access-ip.md"),
        "--save-scenario",
        "report-2-scale",
        env=env,
        timeout=1800,
    )
