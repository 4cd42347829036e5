"""A normal Kubespray inventory for a scenario's nodes in one run.

Hosts keep the scenario's names (km-1, kw-1, ...) and are reached over SSH at their
container's address with the run's key (or with `docker exec`, HARNESS_CONNECTION=docker).
No `ip`/`access_ip` is set: Kubespray derives addresses from facts, as on the field
reports' clusters.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from harness.errors import HarnessError
from harness.scenario import Scenario, Step

DOCKER_CONNECTION_VARS = {
    "ansible_connection": "community.docker.docker",
    "ansible_user": "root",
    "ansible_python_interpreter": "/usr/bin/python3",
}


@dataclass(frozen=True)
class SshAccess:
    """Reach the nodes over SSH at their addresses, as Kubespray reaches machines."""

    key_file: Path
    addresses: dict[str, str]

    def connection_vars(self) -> dict[str, str]:
        return {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key_file),
            "ansible_python_interpreter": "/usr/bin/python3",
        }


_PLACEHOLDERS = jinja2.Environment(
    variable_start_string="<<",
    variable_end_string=">>",
    block_start_string="<%",
    block_end_string="%>",
    undefined=jinja2.StrictUndefined,
    autoescape=False,
)


def container_name(node: str, run_id: str) -> str:
    return f"{node}-{run_id}"


def network_name(run_id: str) -> str:
    return f"kh-{run_id}"


def hosts_document(
    scenario: Scenario,
    run_id: str,
    ssh: SshAccess | None = None,
    step: Step | None = None,
    addresses: dict[str, str] | None = None,
) -> dict[str, Any]:
    """hosts.yml at a step; without `ssh`, hosts are reached with `docker exec` by container name."""
    nodes = scenario.kubespray_nodes(step)
    children: dict[str, Any] = {}
    for node in nodes:
        for group in node.groups:
            children.setdefault(group, {"hosts": {}})["hosts"][node.name] = None
    children["k8s_cluster"] = {"children": {"kube_control_plane": None, "kube_node": None}}
    children.setdefault("kube_node", {"hosts": {}})
    if ssh is None:
        connection_vars = dict(DOCKER_CONNECTION_VARS)
        hosts = {node.name: {"ansible_host": container_name(node.name, run_id)} for node in nodes}
    else:
        connection_vars = ssh.connection_vars()
        hosts = {node.name: {"ansible_host": ssh.addresses[node.name]} for node in nodes}
    for node in nodes:  # the connection is the harness's: host vars never override it
        hosts[node.name] = {**render_placeholders(node.host_vars, addresses or {}), **hosts[node.name]}
    return {
        "all": {
            "vars": connection_vars,
            "hosts": hosts,
            "children": children,
        }
    }


def render_placeholders(value: Any, addresses: dict[str, str]) -> Any:
    """Fill `<< address('lb-1') >>` placeholders in group vars, recursively."""
    if isinstance(value, dict):
        return {key: render_placeholders(item, addresses) for key, item in value.items()}
    if isinstance(value, list):
        return [render_placeholders(item, addresses) for item in value]
    if not isinstance(value, str) or "<<" not in value:
        return value

    def address(node: str) -> str:
        if node not in addresses:
            raise HarnessError(f"group vars ask for address({node!r}) but the scenario has no such node")
        return addresses[node]

    try:
        return _PLACEHOLDERS.from_string(value).render(address=address)
    except jinja2.TemplateError as exc:
        raise HarnessError(f"group var placeholder {value!r}: {exc}") from exc


def write_inventory(
    directory: Path,
    scenario: Scenario,
    run_id: str,
    addresses: dict[str, str],
    worktree: Path,
    ssh: SshAccess | None = None,
    step: Step | None = None,
) -> Path:
    """Kubespray's sample group_vars (as an operator copies them), the scenario's
    group vars on top, and hosts.yml. Returns the hosts file."""
    group_vars = directory / "group_vars"
    sample = worktree / "inventory" / "sample" / "group_vars"
    if sample.is_dir():
        shutil.copytree(sample, group_vars, dirs_exist_ok=True)
    for group, variables in scenario.group_vars.items():
        target = group_vars / group
        if target.is_file():  # a sample that keeps group vars in one file
            target.rename(target.with_suffix(".yml"))
        target.mkdir(parents=True, exist_ok=True)
        rendered = render_placeholders(variables, addresses)
        (target / "zz-scenario.yml").write_text(yaml.safe_dump(rendered, sort_keys=False))
    hosts = directory / "hosts.yml"
    hosts.write_text(yaml.safe_dump(hosts_document(scenario, run_id, ssh, step, addresses), sort_keys=False))
    return hosts
