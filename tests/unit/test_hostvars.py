"""host_variables (run in the controller by hostvars): the Kubespray variables the host
checks expect, per host, asked of Ansible (here the harness's own, in this process).

A small worktree stands in for Kubespray's (its kubespray-defaults role defaults, in either
of the role's names and layouts); the inventory is the harness's own, written for the
upgrade scenario with the scenario's group vars.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import hostvars, inventory
from harness import scenario as scenarios
from harness.ansible_plugins.host_variables import plain, read_host_variables

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULTS = {
    "kube_apiserver_port": 6443,
    "cluster_name": "cluster.local",
    "dns_domain": "{{ cluster_name }}",
    "apiserver_loadbalancer_domain_name": "lb-apiserver.kubernetes.local",
}
LOADBALANCER = {"address": "10.0.0.6", "port": 8443}  # the scenario's, lb-1 being its 6th node


def _worktree(tmp_path: Path, layout: str = "roles/kubespray-defaults/defaults/main/main.yml") -> Path:
    worktree = tmp_path / "kubespray"
    defaults = worktree / layout
    defaults.parent.mkdir(parents=True)
    defaults.write_text(yaml.safe_dump(DEFAULTS))
    return worktree


def _inventory(tmp_path: Path, worktree: Path, group_vars: dict[str, dict]) -> Path:
    scenario = scenarios.load(SCENARIOS, "upgrade-node-based")
    scenario = scenario.model_copy(update={"group_vars": {**scenario.group_vars, **group_vars}})
    addresses = {node.name: f"10.0.0.{index}" for index, node in enumerate(scenario.nodes, start=1)}
    ssh = inventory.SshAccess("/harness/run/ssh/id_ed25519", addresses)
    return inventory.write_inventory(tmp_path / "inventory", scenario, worktree, ssh)


def test_without_settings_the_refs_defaults_hold(tmp_path: Path) -> None:
    worktree = _worktree(tmp_path)

    found = read_host_variables(_inventory(tmp_path, worktree, {}), worktree, hostvars.CHECKED)

    assert set(found) == {"km-1", "km-2", "km-3", "kw-1", "kw-2"}
    assert found["kw-1"] == {
        "kube_apiserver_port": 6443,
        "dns_domain": "cluster.local",
        "apiserver_loadbalancer_domain_name": "lb-apiserver.kubernetes.local",
        "loadbalancer_apiserver": LOADBALANCER,
        "loadbalancer_apiserver_localhost": True,  # the scenario's
        "loadbalancer_apiserver_type": "haproxy",
    }


def test_a_group_other_than_all_sets_the_port_the_domain_and_the_apiserver_name(tmp_path: Path) -> None:
    worktree = _worktree(tmp_path)
    settings = {
        "kube_apiserver_port": 7443,
        "cluster_name": "example.org",
        "apiserver_loadbalancer_domain_name": "api.example.org",
    }

    found = read_host_variables(_inventory(tmp_path, worktree, {"kube_node": settings}), worktree, hostvars.CHECKED)

    assert found["kw-1"] == {
        "kube_apiserver_port": 7443,
        "dns_domain": "example.org",
        "apiserver_loadbalancer_domain_name": "api.example.org",
        "loadbalancer_apiserver": LOADBALANCER,
        "loadbalancer_apiserver_localhost": True,
        "loadbalancer_apiserver_type": "haproxy",
    }
    assert found["km-1"]["kube_apiserver_port"] == 6443, "the control planes are not in kube_node"


def test_a_templated_default_is_templated_for_the_host(tmp_path: Path) -> None:
    """Kubespray's own default: a localhost balancer only where no external one is set."""
    worktree = _worktree(tmp_path)
    defaults = worktree / "roles/kubespray-defaults/defaults/main/main.yml"
    with_localhost = {**DEFAULTS, "loadbalancer_apiserver_localhost": "{{ loadbalancer_apiserver is not defined }}"}
    defaults.write_text(yaml.safe_dump(with_localhost))
    scenario = scenarios.load(SCENARIOS, "upgrade-node-based")
    group_vars = {
        "all": {k: v for k, v in scenario.group_vars["all"].items() if k != "loadbalancer_apiserver_localhost"}
    }
    scenario = scenario.model_copy(update={"group_vars": group_vars})
    addresses = {node.name: f"10.0.0.{index}" for index, node in enumerate(scenario.nodes, start=1)}
    hosts = inventory.write_inventory(
        tmp_path / "inventory", scenario, worktree, inventory.SshAccess("/harness/run/ssh/id_ed25519", addresses)
    )

    found = read_host_variables(hosts, worktree, hostvars.CHECKED)

    assert found["kw-1"]["loadbalancer_apiserver_localhost"] is False  # the scenario sets loadbalancer_apiserver


def test_a_default_that_comes_to_undefined_is_left_out(tmp_path: Path) -> None:
    """v2.31.0 without a load balancer: its name is `d(undef())`, which Ansible refuses to template."""
    worktree = _worktree(tmp_path)
    undefined = (
        "{{ 'localhost' if loadbalancer_apiserver_localhost else (loadbalancer_apiserver.address | d(undef())) }}"
    )
    defaults = worktree / "roles/kubespray-defaults/defaults/main/main.yml"
    defaults.write_text(yaml.safe_dump({**DEFAULTS, "apiserver_loadbalancer_domain_name": undefined}))
    hosts = _inventory(tmp_path, worktree, {"all": {"loadbalancer_apiserver_localhost": False}})
    text = hosts.read_text().replace("loadbalancer_apiserver:", "unused_balancer:")
    hosts.write_text(text)
    for group_vars in (tmp_path / "inventory" / "group_vars").rglob("*.yml"):
        group_vars.write_text(group_vars.read_text().replace("loadbalancer_apiserver:", "unused_balancer:"))

    found = read_host_variables(hosts, worktree, hostvars.CHECKED)

    assert "apiserver_loadbalancer_domain_name" not in found["kw-1"]
    assert found["kw-1"]["kube_apiserver_port"] == 6443


@pytest.mark.parametrize(
    "layout",
    ["roles/kubespray_defaults/defaults/main/main.yml", "roles/kubespray-defaults/defaults/main.yaml"],
)
def test_the_defaults_role_is_found_under_either_name_and_layout(tmp_path: Path, layout: str) -> None:
    worktree = _worktree(tmp_path, layout)

    found = read_host_variables(_inventory(tmp_path, worktree, {}), worktree, hostvars.CHECKED)

    assert found["km-2"]["dns_domain"] == "cluster.local"


def test_plain_turns_ansible_values_into_json_and_yaml_types() -> None:
    assert plain({"a": (1, True), 2: "x"}) == {"a": [1, True], "2": "x"}


def test_the_preinstall_roles_etc_hosts_switches_are_read_and_overridden(tmp_path: Path) -> None:
    worktree = _worktree(tmp_path)
    preinstall = worktree / "roles/kubernetes/preinstall/defaults/main.yml"
    preinstall.parent.mkdir(parents=True)
    preinstall.write_text(
        yaml.safe_dump(
            {"populate_inventory_to_hosts_file": True, "populate_loadbalancer_apiserver_to_hosts_file": True}
        )
    )
    settings = {"populate_inventory_to_hosts_file": False}

    found = read_host_variables(_inventory(tmp_path, worktree, {"all": settings}), worktree, hostvars.CHECKED)

    assert found["km-1"]["populate_inventory_to_hosts_file"] is False
    assert found["km-1"]["populate_loadbalancer_apiserver_to_hosts_file"] is True
