"""A normal Kubespray inventory for a scenario's nodes in one run.

Hosts keep the scenario's names (km-1, kw-1, ...) and are reached over SSH at their
container's address with the run's key, from the run's controller container.
No `ip`/`access_ip` is set: Kubespray derives addresses from facts, as on the field
reports' clusters.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.scenario import Scenario, Step


@dataclass(frozen=True)
class SshAccess:
    """Reach the nodes over SSH at their addresses, as Kubespray reaches machines."""

    key_file: str  # where the controller finds the run's key
    addresses: dict[str, str]

    def connection_vars(self) -> dict[str, str]:
        return {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.key_file,
            "ansible_python_interpreter": "/usr/bin/python3",
        }


def container_name(node: str, run_id: str) -> str:
    return f"{node}-{run_id}"


def network_name(run_id: str) -> str:
    return f"kh-{run_id}"


def hosts_document(scenario: Scenario, ssh: SshAccess, step: Step | None = None) -> dict[str, Any]:
    """hosts.yml at a step: each host reached over SSH at its address."""
    nodes = scenario.kubespray_nodes(step)
    children: dict[str, Any] = {}
    for node in nodes:
        for group in node.groups:
            children.setdefault(group, {"hosts": {}})["hosts"][node.name] = None
    children["k8s_cluster"] = {"children": {"kube_control_plane": None, "kube_node": None}}
    children.setdefault("kube_node", {"hosts": {}})
    hosts = {}
    for node in nodes:  # the connection is the harness's: host vars never override it
        own = fill_placeholders(node.host_vars, ssh.addresses)
        hosts[node.name] = {**own, "ansible_host": ssh.addresses[node.name]}
    return {
        "all": {
            "vars": ssh.connection_vars(),
            "hosts": hosts,
            "children": children,
        }
    }


# The one placeholder the harness fills, in what a scenario (or a report's scenario) says:
# `<< address('NODE') >>`, the node's address in this run. Filled by a fixed pattern, never by
# a template engine: the text around it, whoever wrote it, stays as it is.
_ADDRESS = re.compile(r"<<\s*address\(\s*'([^'<>]*)'\s*\)\s*>>")


def fill_placeholders(value: Any, addresses: dict[str, str]) -> Any:
    """Fill `<< address('lb-1') >>` placeholders in variables, recursively."""
    if isinstance(value, dict):
        return {key: fill_placeholders(item, addresses) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(item, addresses) for item in value]
    if not isinstance(value, str) or "<<" not in value:
        return value

    def address(match: re.Match[str]) -> str:
        node = match.group(1)
        if node not in addresses:
            raise HarnessError(f"variables ask for address({node!r}) but the scenario has no such node")
        return addresses[node]

    return _ADDRESS.sub(address, value)


def write_inventory(
    directory: Path, scenario: Scenario, worktree: Path, ssh: SshAccess, step: Step | None = None
) -> Path:
    """Kubespray's sample group_vars (as an operator copies them), the scenario's
    group vars on top, and hosts.yml. Returns the hosts file."""
    directory.mkdir(parents=True, exist_ok=True)
    group_vars = directory / "group_vars"
    sample = worktree / "inventory" / "sample" / "group_vars"
    if sample.is_dir():
        shutil.copytree(sample, group_vars, dirs_exist_ok=True)
    for group, variables in scenario.group_vars.items():
        target = group_vars / group
        if target.is_file():  # a sample that keeps group vars in one file
            target.rename(target.with_suffix(".yml"))
        target.mkdir(parents=True, exist_ok=True)
        rendered = fill_placeholders(variables, ssh.addresses)
        (target / "zz-scenario.yml").write_text(yaml.safe_dump(rendered, sort_keys=False))
    hosts = directory / "hosts.yml"
    hosts.write_text(yaml.safe_dump(hosts_document(scenario, ssh, step), sort_keys=False))
    return hosts
