"""`harness corpus` on one real report (issue 11245, a cluster of control planes alone): reproduced
on its buggy commit (v2.25.0), not reproduced on its fix (v2.25.1) with the reported task run there.
Two repro runs, one after the other (about 6 minutes)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from cli_helpers import HARNESS

pytestmark = pytest.mark.integration

CASE = "empty-kube-node"
TASK = "kubernetes/preinstall : Stop if either kube_control_plane or kube_node group is empty"


@pytest.fixture(scope="module")
def one_case(tmp_path_factory, docker_engine, kubespray_clone):
    out = tmp_path_factory.mktemp("corpus")
    argv = [*HARNESS, "corpus", "--only", CASE, "--report-json", str(out / "cells.json"), "--table", str(out / "t.md")]
    # The corpus's reports are ours: unsealed, verify skips the slow DNS of an internal network.
    env = {**os.environ, "HARNESS_ALLOW_EGRESS": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=2400, check=False, env=env)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    return proc, json.loads((out / "cells.json").read_text()), (out / "t.md").read_text()


def test_the_case_holds_on_both_commits(one_case):
    proc, cells, table = one_case

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [(cell["verdict"], cell["matches"]) for cell in cells] == [
        ("expected-failure", True),
        ("unexpected-pass", True),
    ], cells
    assert f"| {CASE} |" in table and "| reproduced |" in table and "| not-reproduced |" in table, table


def test_on_the_buggy_commit_the_loop_item_fails_where_the_report_says(one_case):
    _, (buggy, _), _ = one_case

    assert (buggy["failed_task"], buggy["failed_step"], buggy["failed_hosts"]) == (TASK, "command-1", ["cp-1"])
    assert "Assertion failed" in buggy["failed_message"]


def test_on_the_fix_the_reported_task_ran_and_the_step_says_how_deep_it_went(one_case):
    _, (_, fixed), _ = one_case
    depth = fixed["coverage"]["command-1"]

    assert fixed["differences"] == [], "an unexpected pass is earned: the task ran on cp-1"
    assert depth["results"]["failed"] == 0 and depth["tasks_ran"] > 0
    assert 0 < depth["selected"] < depth["listed"], depth
