"""Two matrix cells at once (-j 2): each gets its own correct verdict, nothing interferes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from harness import provider

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_cells(tmp_path_factory, docker_engine, kubespray_clone):
    out = tmp_path_factory.mktemp("matrix")
    argv = [
        sys.executable, "-m", "harness", "matrix", "-j", "2",
        "--only", "upgrade-node-based@v2.27.0", "--only", "scale-limit@8f4b7f9f5",
        "--junit", str(out / "junit.xml"), "--markdown", str(out / "matrix.md"), "--report-json", str(out / "m.json"),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=2400, check=False)
    print(proc.stdout[-4000:], proc.stderr[-3000:])
    return proc, out


def test_both_cells_match_and_the_matrix_exits_0(two_cells):
    proc, _ = two_cells
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_each_parallel_cell_reproduces_its_own_failure(two_cells):
    _, out = two_cells
    cells = {cell["scenario"]: cell for cell in json.loads((out / "m.json").read_text())}
    upgrade, scale = cells["upgrade-node-based"], cells["scale-limit"]
    assert upgrade["verdict"] == "expected-failure" and "fallback_ip" in upgrade["failed_message"]
    assert scale["verdict"] == "expected-failure" and "main_access_ip" in scale["failed_message"]
    assert upgrade["run_id"] != scale["run_id"] and upgrade["run_dir"] != scale["run_dir"]
    assert all(cell["expected"] == "expected-failure" and cell["matches"] for cell in cells.values())


def test_junit_and_markdown_hold_both_cells(two_cells):
    _, out = two_cells
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert len((out / "matrix.md").read_text().strip().splitlines()) == 4


def test_parallel_cells_leave_no_containers_or_networks(two_cells, docker_engine):
    _, out = two_cells
    for cell in json.loads((out / "m.json").read_text()):
        selector = {"label": f"{provider.RUN_LABEL}={cell['run_id']}"}
        assert docker_engine.containers.list(all=True, filters=selector) == []
        assert docker_engine.networks.list(filters=selector) == []
