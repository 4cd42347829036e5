"""The report's inventory, read by Ansible's own inventory plugins (ini, yaml).

Only those two plugins are asked, on a file the harness writes: no inventory
script or dynamic plugin of a report ever runs. Nothing is templated here;
values stay as the reporter wrote them (they are templated by Ansible in the run's
controller container only). Group names must be Ansible's, host names a node's.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from harness.ansible_plugins.host_variables import plain
from harness.errors import HarnessError
from harness.repro import files
from harness.repro.form import BugReport, section, yaml_mapping
from harness.scenario import GROUP_NAME_RE, GROUP_NAME_RULE
from harness.text import one_line

# The groups Kubespray gives a host its role by; only kube_control_plane may not be empty
# (a cluster of control planes alone has no kube_node host; kubeadm-managed etcd, no etcd host).
ROLE_GROUPS = ("kube_control_plane", "etcd", "kube_node")
REQUIRED_GROUPS = ("kube_control_plane",)
# Groups the harness rebuilds itself (k8s_cluster: kube_control_plane + kube_node).
IMPLICIT_GROUPS = {"all", "ungrouped", "k8s_cluster"}
# Kubespray's SSH jump host: the harness reaches its nodes directly.
DROPPED_GROUPS = {"bastion"}
_MAGIC_VARS = {"inventory_file", "inventory_dir"}
_VARS_CAPTION = re.compile(r"(group_vars|host_vars)/([A-Za-z0-9_.-]+?)(?:\.ya?ml|/|\s|$)")


@dataclass(frozen=True)
class ReportHost:
    name: str
    groups: list[str]
    vars: dict[str, Any]


@dataclass
class ReportInventory:
    hosts: list[ReportHost]
    group_vars: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def host(self, name: str) -> ReportHost | None:
        return next((host for host in self.hosts if host.name == name), None)

    def groups(self) -> set[str]:
        return {group for host in self.hosts for group in host.groups}


def read(report: BugReport) -> ReportInventory:
    where = f"{report.path}: section {section('inventory')}"
    hosts_text, vars_blocks = _split(report)
    if not hosts_text.strip():
        raise HarnessError(f"{where} is missing or empty; paste the inventory file (INI or YAML) there")
    if "hostvars[inventory_hostname]" in hosts_text or re.search(r"\| SUCCESS =>", hosts_text):
        raise HarnessError(
            f"{where} holds the output of `ansible -m debug`, not an inventory; paste the inventory file "
            "(INI or YAML) and its group_vars instead"
        )
    data = _parse(hosts_text, where)
    inventory = _from_data(data)
    for kind, name, variables in vars_blocks:
        _add_vars(inventory, kind, name, variables, where)
    _check_groups(inventory, where)
    return inventory


def _split(report: BugReport) -> tuple[str, list[tuple[str, str, dict[str, Any]]]]:
    """The hosts file, and the group_vars/host_vars files pasted beside it (named in the line above each)."""
    blocks = report.blocks("inventory")
    if not blocks:
        return report.text("inventory"), []
    hosts, extra = [], []
    for block in blocks:
        if files.node_file_path(block):  # a machine's file (harness.repro.files), not the inventory
            continue
        match = _VARS_CAPTION.search(block.caption)
        if match is None:
            hosts.append(block.text)
            continue
        what = f"{report.path}: {match.group(0).strip()} in {section('inventory')}"
        variables = yaml_mapping(block.text, what, "a mapping of variables")
        extra.append((match.group(1), match.group(2), variables))
    return "\n".join(hosts), extra


def _parse(text: str, where: str) -> InventoryData:
    is_yaml = _looks_like_yaml(text)
    with tempfile.TemporaryDirectory(prefix="kh-inventory-") as tmp:
        path = Path(tmp) / ("hosts.yml" if is_yaml else "hosts.ini")
        path.write_text(text)
        data = InventoryData()
        plugin = inventory_loader.get("yaml" if is_yaml else "ini")
        try:
            plugin.parse(data, DataLoader(), str(path), cache=False)
            data.reconcile_inventory()
        except AnsibleError as exc:
            problem = str(exc.message if hasattr(exc, "message") else exc).replace(str(path), "the inventory")
            raise HarnessError(
                f"{where} does not parse as an {'YAML' if is_yaml else 'INI'} inventory: {problem.splitlines()[0]}"
            ) from exc
    if not data.hosts:
        raise HarnessError(f"{where} names no hosts")
    return data


def _looks_like_yaml(text: str) -> bool:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(document, dict)


def _from_data(data: InventoryData) -> ReportInventory:
    notes = []
    hosts = []
    for host in data.hosts.values():
        groups = [str(group.name) for group in host.get_groups() if group.name not in IMPLICIT_GROUPS]
        if DROPPED_GROUPS & set(groups):
            notes.append(f"dropped host {host.name} (group bastion): the harness reaches its nodes directly")
            continue
        variables = {key: value for key, value in plain(host.vars).items() if key not in _MAGIC_VARS}
        hosts.append(ReportHost(str(host.name), groups, variables))
    group_vars = {
        str(group.name): plain(group.vars)
        for group in data.groups.values()
        if group.vars and group.name not in DROPPED_GROUPS and group.name != "ungrouped"
    }
    return ReportInventory(hosts, group_vars, notes)


def _add_vars(inventory: ReportInventory, kind: str, name: str, variables: dict[str, Any], where: str) -> None:
    if kind == "group_vars":
        inventory.group_vars[name] = {**inventory.group_vars.get(name, {}), **variables}
        return
    host = inventory.host(name)
    if host is None:
        raise HarnessError(f"{where}: host_vars/{name} is for a host the inventory does not name")
    host.vars.update(variables)


def _check_groups(inventory: ReportInventory, where: str) -> None:
    groups = inventory.groups()
    for group in sorted(groups | set(inventory.group_vars)):
        if not re.match(GROUP_NAME_RE, group):
            raise HarnessError(
                f"{where}: group {one_line(repr(group), 80)} is not an Ansible group name {GROUP_NAME_RULE}; rename it"
            )
    missing = [group for group in REQUIRED_GROUPS if group not in groups]
    if missing:
        raise HarnessError(f"{where}: no host is in {', '.join(missing)}; Kubespray needs a control plane")
    ungrouped = [host.name for host in inventory.hosts if not set(host.groups) & set(ROLE_GROUPS)]
    if ungrouped:
        raise HarnessError(
            f"{where}: host(s) {', '.join(ungrouped)} are in none of {', '.join(ROLE_GROUPS)}; "
            "put each host in the groups Kubespray gives it a role by"
        )


def hosts_matching(inventory: ReportInventory, pattern: str | None) -> set[str]:
    """The hosts an ansible-playbook `--limit PATTERN` selects, by Ansible's own pattern rules
    (groups, `:`, `,`, `!`, `&`, wildcards); every host without a limit."""
    data = InventoryData()
    data.add_group("k8s_cluster")
    for host in inventory.hosts:
        for group in host.groups:
            data.add_group(group)
            data.add_host(host.name, group)
        data.add_host(host.name)
    for member in ("kube_control_plane", "kube_node"):
        if member in data.groups:
            data.add_child("k8s_cluster", member)
    data.reconcile_inventory()
    manager = InventoryManager(loader=DataLoader(), parse=False)
    manager._inventory = data  # the report's hosts and groups, not a source file of the report's
    if pattern:
        manager.subset(pattern)
    return {host.name for host in manager.get_hosts("all")}
