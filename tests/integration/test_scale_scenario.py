"""The scale-out scenario (scale.yml --limit kw-3) on its buggy and fixed commits: the two runs
the session's `adjacent_bisection` made of its ends (each a whole scenario run with its own
report.json), shared with test_bisect_adjacent.py: same lane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import leftovers

pytestmark = pytest.mark.integration

EXPECTED_TASK = "kubernetes/preinstall : Hosts | create hosts list from inventory"


def _run(adjacent_bisection, sha: str) -> dict:
    _, result = adjacent_bisection
    probe = next(probe for probe in result["probes"] if probe["sha"].startswith(sha))
    return json.loads((Path(probe["run_dir"]) / "report.json").read_text())


def test_buggy_commit_fails_at_the_hosts_list_on_the_new_node_in_the_scale_step(adjacent_bisection):
    buggy = _run(adjacent_bisection, "8f4b7f9f5")
    assert buggy["verdict"] == "expected-failure", buggy
    assert (buggy["failed_step"], buggy["failed_task"], buggy["failed_hosts"]) == (
        "scale-kw-3",
        EXPECTED_TASK,
        ["kw-3"],
    )
    assert "main_access_ip" in buggy["failed_message"]


def test_fixed_commit_runs_every_step_and_every_check_green(adjacent_bisection):
    fixed = _run(adjacent_bisection, "6d4714b66")
    assert fixed["failed_step"] is None, fixed
    assert fixed["checks"]["total"] >= 40 and fixed["checks"]["failed"] == [] and fixed["checks"]["skipped"] == []


def test_new_node_etc_hosts_lists_every_cluster_host_and_the_loadbalancer(adjacent_bisection):
    run_dir = Path(_run(adjacent_bisection, "6d4714b66")["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    hosts = (run_dir / "artifacts" / "kw-3" / "hosts").read_text()
    for node in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "kw-3"):
        assert f"{addresses[node]} {node}.cluster.local {node}" in hosts, hosts
    assert f"{addresses['lb-1']} lb-apiserver.kubernetes.local" in hosts, hosts


def test_existing_nodes_keep_the_block_of_the_deploy(adjacent_bisection):
    run_dir = Path(_run(adjacent_bisection, "6d4714b66")["run_dir"])
    hosts = (run_dir / "artifacts" / "kw-1" / "hosts").read_text()
    assert "km-1.cluster.local" in hosts and "kw-3.cluster.local" not in hosts, hosts


def test_the_runs_leave_no_containers_or_networks(adjacent_bisection, docker_engine):
    for sha in ("8f4b7f9f5", "6d4714b66"):
        assert leftovers(docker_engine, _run(adjacent_bisection, sha)["run_id"]) == []
