"""The scale-out scenario (scale.yml --limit kw-3) on its fixed commit, through `harness run`:
passed, and what the nodes held. Reads the session's `scale_run` (about 6 minutes). The buggy
commit is replayed by test_repro_report.py (Report 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import leftovers

pytestmark = pytest.mark.integration


def test_fixed_commit_passes_with_every_check_run_and_green(scale_run):
    proc, result = scale_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert result["verdict"] == "passed", result
    assert result["checks"]["total"] >= 40 and result["checks"]["failed"] == [] and result["checks"]["skipped"] == []


def test_new_node_etc_hosts_lists_every_cluster_host_and_the_loadbalancer(scale_run):
    _, result = scale_run
    run_dir = Path(result["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    hosts = (run_dir / "artifacts" / "kw-3" / "hosts").read_text()
    for node in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "kw-3"):
        assert f"{addresses[node]} {node}.cluster.local {node}" in hosts, hosts
    assert f"{addresses['lb-1']} lb-apiserver.kubernetes.local" in hosts, hosts


def test_existing_nodes_keep_the_block_of_the_deploy(scale_run):
    _, result = scale_run
    hosts = (Path(result["run_dir"]) / "artifacts" / "kw-1" / "hosts").read_text()
    assert "km-1.cluster.local" in hosts and "kw-3.cluster.local" not in hosts, hosts


def test_the_run_leaves_no_containers_or_networks(scale_run, docker_engine):
    _, result = scale_run
    assert leftovers(docker_engine, result["run_id"]) == []
