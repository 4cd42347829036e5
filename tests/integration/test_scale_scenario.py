"""The scale-out scenario (scale.yml --limit kw-3) on its buggy, fixed and 'fails elsewhere' refs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HARNESS = [sys.executable, "-m", "harness"]
EXPECTED_TASK = "kubernetes/preinstall : Hosts | create hosts list from inventory"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, docker_engine, kubespray_clone):
    """One `harness run` over the three refs of the field report."""
    report = tmp_path_factory.mktemp("scale") / "report.json"
    refs = ["8f4b7f9f5", "6d4714b66", "a51e7dd07"]
    argv = [*HARNESS, "run", "scale-limit", *[f"--ref={ref}" for ref in refs], "--report-json", str(report)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=2400, check=False)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    assert report.is_file(), proc.stderr[-3000:]
    return proc, {r["ref"]: r for r in json.loads(report.read_text())}


def test_buggy_ref_reproduces_main_access_ip_failure_at_hosts_list(runs):
    _, results = runs
    buggy = results["8f4b7f9f5"]
    assert buggy["verdict"] == "expected-failure", buggy
    assert buggy["failed_step"] == "scale-kw-3"
    assert buggy["failed_task"] == EXPECTED_TASK
    assert "main_access_ip" in buggy["failed_message"]


def test_fixed_ref_passes_with_every_check_green(runs):
    _, results = runs
    fixed = results["6d4714b66"]
    assert fixed["verdict"] == "passed", fixed
    assert fixed["checks"]["total"] > 0 and fixed["checks"]["failed"] == []


def test_refactor_commit_fails_elsewhere_never_as_the_expected_failure(runs):
    _, results = runs
    elsewhere = results["a51e7dd07"]
    assert elsewhere["verdict"] == "unexpected-failure", elsewhere
    assert elsewhere["failed_task"] != EXPECTED_TASK
    assert elsewhere["failed_step"] == "scale-kw-3"


def test_one_mismatching_ref_makes_the_run_exit_1(runs):
    proc, _ = runs
    assert proc.returncode == 1


def test_new_node_etc_hosts_lists_every_cluster_host_and_the_loadbalancer(runs):
    _, results = runs
    run_dir = Path(results["6d4714b66"]["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    hosts = (run_dir / "artifacts" / "kw-3" / "hosts").read_text()
    for node in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "kw-3"):
        assert f"{addresses[node]} {node}.cluster.local {node}" in hosts, hosts
    assert f"{addresses['lb-1']} lb-apiserver.kubernetes.local" in hosts, hosts
