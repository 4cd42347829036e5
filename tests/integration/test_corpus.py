"""`harness corpus` on one real report (kubitect#170: Kubespray v2.23.1 under an ansible-core with
the unsafe-conditional fix, one control plane and one worker): reproduced on its buggy commit
(v2.23.1), not reproduced on its fix (v2.23.2) with the reported task run there. The cheapest
case of the corpus (two nodes; both commits pin the same Ansible, one controller image): two
repro runs, one after the other, about 4 minutes."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from cli_helpers import HARNESS

pytestmark = pytest.mark.integration

CASE = "kubitect-conditional-unsafe"
TASK = "kubernetes/preinstall : Stop if either kube_control_plane or kube_node group is empty"
FAILED_HOST = "k8s-cluster-master-1"


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


def test_on_the_buggy_commit_the_check_fails_where_the_report_says(one_case):
    _, (buggy, _), _ = one_case

    assert (buggy["failed_task"], buggy["failed_step"], buggy["failed_hosts"]) == (TASK, "command-1", [FAILED_HOST])
    assert "Conditional is marked as unsafe" in buggy["failed_message"]


def test_on_the_fix_the_reported_task_ran_and_the_step_says_how_deep_it_went(one_case):
    _, (_, fixed), _ = one_case
    depth = fixed["coverage"]["command-1"]

    assert fixed["differences"] == [], f"an unexpected pass is earned: the task ran on {FAILED_HOST}"
    assert depth["results"]["failed"] == 0 and depth["tasks_ran"] > 0
    assert 0 < depth["selected"] < depth["listed"], depth
