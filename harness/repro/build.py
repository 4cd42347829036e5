"""A bug report made into a scenario folder: one scenario.yml.

One container per host of the report's inventory, same names and groups; the
report's addresses become `<< address('host') >>` placeholders, filled in with
the containers' addresses at each step; an external API server load balancer
the variables point at becomes a load balancer node. Steps: deploy
(cluster.yml, as the reporter's cluster existed), then the report's commands;
a report whose first command is cluster.yml is about the deploy: that command is it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.repro import files as report_files
from harness.repro import safety
from harness.repro.commands import Command
from harness.repro.form import section
from harness.repro.inventory import ReportHost, ReportInventory
from harness.repro.output import ReportedFailure
from harness.repro.tags import BASE_TAGS, TagChoice
from harness.scenario import NODE_NAME_RE, FailureExpectation
from harness.text import one_line

ADDRESS_VARS = ("ansible_host", "ansible_ssh_host", "ip", "access_ip")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


@dataclass
class Plan:
    """The scenario a report becomes, before it is written out."""

    description: str
    nodes: list[dict[str, Any]]
    group_vars: dict[str, dict[str, Any]]
    steps: list[dict[str, Any]]
    ref: str
    failure: ReportedFailure
    failure_step: str
    notes: list[str] = field(default_factory=list)
    tag_reasons: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # the scenario's `files:`

    def expected_failure(self) -> FailureExpectation:
        """The report's failure, where the report saw it: its task, step, hosts, and message or rc."""
        return FailureExpectation(
            task=self.failure.task,
            step=self.failure_step,
            hosts=self.failure.hosts,
            more_hosts_may_fail=True,  # the hosts the reporter pasted, maybe not all that failed
            message=self.failure.message or None,
            rc=None if self.failure.message else self.failure.rc,
        )


def plan(
    description: str,
    inventory: ReportInventory,
    commands: list[Command],
    failure: ReportedFailure,
    failure_step: str,
    ref: str,
    tags: list[str] | None = None,
    chosen: TagChoice | None = None,
    files: list[dict[str, Any]] | None = None,
) -> Plan:
    """`tags` (--tags) win over a command's own, which win over the `chosen` ones (the base set without);
    `files` are the machines' files the report shows (harness.repro.files)."""
    _check_host_names(inventory)
    addresses = _report_addresses(inventory)
    notes = list(inventory.notes)
    balancer = _external_loadbalancer(inventory.group_vars, addresses)
    if balancer:
        addresses[balancer] = _loadbalancer_name(inventory)
        notes.append(f"the API server load balancer {balancer} is node {addresses[balancer]} (HAProxy)")
    group_vars = {
        group: _placeholders(safety.without_connection_vars(variables), addresses, f"group {group}", notes)
        for group, variables in inventory.group_vars.items()
    }
    default_tags = chosen.tags if chosen else BASE_TAGS
    steps = _steps(commands, addresses, tags, default_tags, notes)
    joins = _joining_hosts(commands, steps, inventory)
    nodes = [_node(host, joins.get(host.name), addresses, notes) for host in inventory.hosts]
    if balancer:
        nodes.append({"name": addresses[balancer], "role": "loadbalancer"})
    reasons = chosen.reasons if chosen else []
    files = files or []
    notes += [report_files.describe(entry) for entry in files]
    return Plan(description, nodes, group_vars, steps, ref, failure, failure_step, notes, reasons, files)


def _check_host_names(inventory: ReportInventory) -> None:
    for host in inventory.hosts:
        if host.name in safety.LOCAL_HOST_NAMES:
            raise HarnessError(
                f"section {section('inventory')}: host {host.name!r} is the machine running Ansible; "
                "rename it to the node's own name"
            )
        if not re.match(NODE_NAME_RE, host.name):
            raise HarnessError(
                f"section {section('inventory')}: host name {one_line(repr(host.name), 80)} cannot name a container; "
                "use lower-case letters, digits, '-' and '.' (at most 40)"
            )


def _report_addresses(inventory: ReportInventory) -> dict[str, str]:
    """The reporter's address of each host -> the host, from its connection and ip variables."""
    addresses: dict[str, str] = {}
    for host in inventory.hosts:
        for var in ADDRESS_VARS:
            value = str(host.vars.get(var, ""))
            if _is_ip(value):
                addresses.setdefault(value, host.name)
    return addresses


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _placeholders(value: Any, addresses: dict[str, str], where: str, notes: list[str]) -> Any:
    """The report's host addresses in a value, as placeholders for the containers' addresses."""
    if isinstance(value, dict):
        return {key: _placeholders(item, addresses, where, notes) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders(item, addresses, where, notes) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        host = addresses.get(match.group(0))
        if host is None:
            note = f"{where}: address {match.group(0)} is no host's; left as it is"
            if note not in notes:
                notes.append(note)
            return match.group(0)
        return f"<< address('{host}') >>"

    return _IPV4.sub(replace, value)


def _external_loadbalancer(group_vars: dict[str, dict[str, Any]], addresses: dict[str, str]) -> str | None:
    for variables in group_vars.values():
        balancer = variables.get("loadbalancer_apiserver")
        if isinstance(balancer, dict) and _is_ip(str(balancer.get("address", ""))):
            address = str(balancer["address"])
            if address not in addresses:
                return address
    return None


def _loadbalancer_name(inventory: ReportInventory) -> str:
    """lb-1, or the first lb-N that no host of the report is called."""
    taken = {host.name for host in inventory.hosts}
    return next(f"lb-{index}" for index in range(1, len(taken) + 2) if f"lb-{index}" not in taken)


def _steps(
    commands: list[Command],
    addresses: dict[str, str],
    tags: list[str] | None,
    default_tags: list[str],
    notes: list[str],
) -> list[dict[str, Any]]:
    # A report whose first command deploys (cluster.yml) reports a failing deploy: that command
    # is the deploy. Otherwise the reporter's cluster existed before the commands: deploy it first.
    deploys = bool(commands) and commands[0].playbook == "cluster.yml"
    steps = (
        []
        if deploys
        else [{"name": "deploy", "phase": "prepare", "playbook": "cluster.yml", "tags": tags or default_tags}]
    )
    for index, command in enumerate(commands, start=1):
        extra_vars = safety.without_connection_vars(command.extra_vars)
        dropped = sorted(set(command.extra_vars) - set(extra_vars))
        if dropped:
            notes.append(f"command {index}: dropped -e {', '.join(dropped)}: the connection is the harness's")
        step: dict[str, Any] = {"name": command_step(index), "playbook": command.playbook}
        if deploys and index == 1:
            step["phase"] = "prepare"
        if command.limit:
            step["limit"] = command.limit
        step["tags"] = tags or command.tags or default_tags
        if command.skip_tags:
            step["skip_tags"] = command.skip_tags
        if extra_vars:
            step["extra_vars"] = _placeholders(extra_vars, addresses, f"-e of command {index}", notes)
        steps.append(step)
    return steps


def command_step(index: int) -> str:
    """The step that replays the report's command number `index` (from 1)."""
    return f"command-{index}"


def command_index(step: str) -> int:
    """The number of the report's command a step replays (command_step's inverse)."""
    return int(step.removeprefix("command-"))


def _joining_hosts(commands: list[Command], steps: list[dict[str, Any]], inventory: ReportInventory) -> dict[str, str]:
    """Hosts a scale.yml command adds join the inventory at that step (they did not exist at deploy)."""
    names = {host.name for host in inventory.hosts}
    joins: dict[str, str] = {}
    for command, step in zip(commands, steps[len(steps) - len(commands) :], strict=True):
        if command.is_scale and command.limit:
            for part in re.split(r"[:,]", command.limit):
                if part in names:
                    joins.setdefault(part, step["name"])
    return joins


def _node(host: ReportHost, joins_at: str | None, addresses: dict[str, str], notes: list[str]) -> dict[str, Any]:
    if "kube_control_plane" in host.groups:
        role = "control-plane"
    elif "kube_node" in host.groups:
        role = "worker"
    else:
        role = "etcd"
    node: dict[str, Any] = {"name": host.name, "role": role, "groups": host.groups}
    if joins_at:
        node["joins_at"] = joins_at
    host_vars = _placeholders(safety.without_connection_vars(host.vars), addresses, f"host {host.name}", notes)
    if host_vars:
        node["host_vars"] = host_vars
    return node


def write(plan: Plan, directory: Path, source: str) -> Path:
    """The scenario folder, as a person would write it: its scenario.yml. (The host checks
    that apply are chosen from the run's variables, as for any scenario.)"""
    directory.mkdir(parents=True)
    (directory / "scenario.yml").write_text(_scenario_yaml(plan, source))
    return directory


def _scenario_yaml(plan: Plan, source: str) -> str:
    document = {
        "description": plan.description,
        "nodes": plan.nodes,
        "group_vars": plan.group_vars,
        "steps": plan.steps,
        "default_refs": [plan.ref],
        "expectations": {plan.ref: {"fail": plan.expected_failure().model_dump(mode="json", exclude_none=True)}},
    }
    if plan.files:
        document["files"] = plan.files
    # The notes quote the report: one line each, so no text of the report becomes YAML.
    header = f"# Written by `harness repro` from {one_line(source, 200)}.\n"
    if plan.notes:
        header += "# Notes:\n" + "".join(f"# - {one_line(note)}\n" for note in plan.notes)
    if plan.tag_reasons:
        header += "# Tags:\n" + "".join(f"# - {one_line(reason)}\n" for reason in plan.tag_reasons)
    return header + yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, width=110)


class _PlainDumper(yaml.SafeDumper):
    """Safe YAML without anchors: a scenario.yml a person reads and edits."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
