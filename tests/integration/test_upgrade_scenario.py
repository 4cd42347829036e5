"""The node-based upgrade scenario on its buggy and fixed refs: the session's `upgrade_matrix`
run (about 9 minutes), shared with test_matrix_outputs.py: same lane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import host_sysctls

pytestmark = pytest.mark.integration

HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"


def test_buggy_ref_reproduces_fallback_ip_failure_on_kw_1_in_its_own_step(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    buggy = cells["v2.27.0"]
    assert buggy["verdict"] == "expected-failure", buggy
    where = (buggy["failed_task"], buggy["failed_step"], buggy["failed_hosts"])
    assert where == (HAPROXY_TASK, "upgrade-kw-1", ["kw-1"])
    assert "fallback_ip" in buggy["failed_message"]
    assert buggy["differences"] == []
    assert buggy["sha"].startswith("9ec9b3a2")


def test_fixed_ref_passes_with_every_check_run_and_green(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    fixed = cells["v2.27.1"]
    assert fixed["verdict"] == "passed", fixed
    assert fixed["checks"]["total"] >= 30, fixed["checks"]
    assert fixed["checks"]["failed"] == [] and fixed["checks"]["skipped"] == []
    assert [s["name"] for s in fixed["steps"]] == [
        "setup",
        "create",
        "deploy",
        "upgrade-control-plane",
        "upgrade-kw-1",
        "upgrade-kw-2",
        "verify",
        "destroy",
    ]
    assert all(s["rc"] == 0 and s["seconds"] > 0 for s in fixed["steps"][1:])


def test_a_ref_that_writes_etc_hosts_is_not_checked_for_leaving_it_alone(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    not_applicable = cells["v2.27.1"]["checks"]["not_applicable"]
    etc_hosts = {name: why for name, why in not_applicable.items() if "/etc/hosts" in why}
    assert {name.split("[")[0] for name in etc_hosts} == {
        "test_hosts_file_is_as_before_the_deploy",
        "test_no_kubespray_inventory_block_is_left",
    }, not_applicable
    assert len(etc_hosts) == 10, "two checks on each of the five cluster nodes"
    assert all("writes its inventory block into /etc/hosts" in why for why in etc_hosts.values())


def test_the_nginx_checks_do_not_apply_where_the_workers_balance_with_haproxy(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    not_applicable = cells["v2.27.1"]["checks"]["not_applicable"]
    nginx = {name: why for name, why in not_applicable.items() if "/etc/hosts" not in why}
    assert {name.split("[")[0] for name in nginx} == {
        "test_upstream_has_exactly_one_server_per_control_plane",
        "test_upstream_servers_are_control_plane_addresses_at_the_api_server_port",
        "test_proxy_listens_on_localhost_at_the_balancer_port",
        "test_nginx_accepts_the_config",
    }, not_applicable
    assert set(nginx.values()) == {"the workers' localhost API server load balancer is haproxy, not nginx"}


def test_the_deploy_kept_each_nodes_etc_hosts_as_it_was_before(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    before = Path(cells["v2.27.1"]["run_dir"]) / "before-deploy"
    assert {node.name for node in before.iterdir()} == {"km-1", "km-2", "km-3", "kw-1", "kw-2", "lb-1"}
    assert all("# Ansible inventory hosts" not in (node / "hosts").read_text() for node in before.iterdir())


def test_fixed_ref_workers_haproxy_cfg_lists_every_control_plane(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    run_dir = Path(cells["v2.27.1"]["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    for worker in ("kw-1", "kw-2"):
        config = (run_dir / "artifacts" / worker / "haproxy.cfg").read_text()
        for control_plane in ("km-1", "km-2", "km-3"):
            line = f"server {control_plane} {addresses[control_plane]}:6443"
            assert line in config, f"{worker} haproxy.cfg lacks '{line}':\n{config}"


def test_runs_leave_the_machines_kernel_settings_alone(upgrade_matrix):
    *_, before = upgrade_matrix
    assert host_sysctls() == before
