"""`harness matrix -j 2`: two cells at once, each with its own verdict, and every output
(JSON, JUnit, Markdown, HTML) holding both. Reads the session's `upgrade_matrix` run, as
tests/integration/test_upgrade_scenario.py does; both modules share a lane."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from cli_helpers import leftovers

pytestmark = pytest.mark.integration


def test_both_cells_match_and_the_matrix_exits_0(upgrade_matrix):
    proc, _, _, _ = upgrade_matrix
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_parallel_cells_are_isolated_runs(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    buggy, fixed = cells["v2.27.0"], cells["v2.27.1"]
    assert buggy["run_id"] != fixed["run_id"] and buggy["run_dir"] != fixed["run_dir"]
    assert (buggy["expected"], fixed["expected"]) == ("expected-failure", "passed")
    assert buggy["matches"] and fixed["matches"]


def test_junit_has_a_passing_testcase_per_cell(upgrade_matrix):
    _, out, _, _ = upgrade_matrix
    suite = ET.parse(out / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")
    assert sorted(case.get("name", "").split()[0] for case in suite.iter("testcase")) == ["v2.27.0", "v2.27.1"]


def test_markdown_has_a_row_per_cell(upgrade_matrix):
    _, out, _, _ = upgrade_matrix
    rows = (out / "matrix.md").read_text().strip().splitlines()[2:]
    assert len(rows) == 2 and all("| yes |" in row for row in rows), rows


def test_html_shows_the_failing_task_in_its_output_and_what_the_nodes_held(upgrade_matrix):
    _, out, _, _ = upgrade_matrix
    html = (out / "matrix.html").read_text()
    assert "Haproxy | Write haproxy configuration" in html
    assert "fallback_ip" in html
    assert "backend kube_api_backend" in html  # a worker's haproxy.cfg
    assert "# Ansible inventory hosts BEGIN" in html  # a node's /etc/hosts


def test_parallel_cells_leave_no_containers_or_networks(upgrade_matrix, docker_engine):
    _, _, cells, _ = upgrade_matrix
    for cell in cells.values():
        assert leftovers(docker_engine, cell["run_id"]) == []
