"""`harness repro` of Report 2 on its commit: reproduced where the report says, saved as a
scenario and a matrix cell. Reads the session's `report_2_repro` run (about 4 minutes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import HARNESS, leftovers

pytestmark = pytest.mark.integration


def test_report_2_reproduces_on_its_commit_at_the_new_node(report_2_repro):
    proc, result = report_2_repro
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["verdict"] == "reproduced", result
    assert result["failed_task"] == result["expected_task"]
    assert result["failed_task"] == "kubernetes/preinstall : Hosts | create hosts list from inventory"
    assert (result["failed_step"], result["failed_hosts"]) == ("command-1", ["kw-3"])
    assert (result["expected_step"], result["expected_hosts"]) == ("command-1", ["kw-3"])
    assert "main_access_ip" in result["failed_message"]


def test_the_repro_carries_its_runs_report_and_matrix_report_reads_it(report_2_repro, tmp_path):
    _, result = report_2_repro
    assert (result["schema"], result["run"]["schema"]) == (1, 1)
    assert (result["run"]["verdict"], result["run"]["expected"]) == ("expected-failure", "expected-failure")
    repro_json = tmp_path / "repro.json"
    repro_json.write_text(json.dumps(result))

    shown = subprocess.run([*HARNESS, "matrix-report", str(repro_json)], capture_output=True, text=True, check=False)

    assert shown.returncode == 0, shown.stderr
    assert result["run"]["sha"][:12] in shown.stdout and "expected-failure" in shown.stdout, shown.stdout


def test_saved_report_is_a_scenario_and_a_matrix_cell(report_2_repro, scenarios_copy):
    _, result = report_2_repro
    assert Path(result["saved_scenario"]) == scenarios_copy / "report-2-scale"
    env = {**os.environ, "HARNESS_SCENARIOS_DIR": str(scenarios_copy)}
    listed = subprocess.run(
        [*HARNESS, "matrix", "--list", "--only", "report-2-scale@*"], capture_output=True, text=True, env=env
    )
    assert json.loads(listed.stdout) == [
        {"label": "report-2-scale@8f4b7f9f5", "scenario": "report-2-scale", "ref": "8f4b7f9f5"}
    ], listed.stderr


def test_repro_leaves_no_containers(report_2_repro, docker_engine):
    _, result = report_2_repro
    run_id = Path(result["run_dir"]).name.rsplit("-", 1)[-1]
    assert leftovers(docker_engine, run_id) == []
