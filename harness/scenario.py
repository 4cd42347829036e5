"""Scenarios are data: `scenarios/<name>/scenario.yml`, loaded and validated here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import HarnessError
from harness.text import validation_problem

# Kubespray inventory groups each node role belongs to. The load balancer is
# not a Kubespray host: it only sits in front of the control planes.
ROLE_GROUPS: dict[str, list[str]] = {
    "control-plane": ["kube_control_plane", "etcd"],
    "worker": ["kube_node"],
    "etcd": ["etcd"],
    "loadbalancer": [],
}
KUBESPRAY_GROUPS = {"all", "k8s_cluster", "kube_control_plane", "etcd", "kube_node", "calico_rr"}
NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$"
# Node names are hostnames (a report's hosts keep theirs): dots allowed, 40 characters at most.
NODE_NAME_RE = r"^[a-z0-9]([a-z0-9.-]{0,38}[a-z0-9])?$"
# Ansible's rule for a group name (it warns about any other, and can rewrite it): letters,
# digits and '_', not starting with a digit. The inventory's group_vars files are named by
# group, so a name that passed this can never be a path.
GROUP_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
GROUP_NAME_RULE = "(letters, digits and '_', not starting with a digit)"
# Kubespray's playbooks are files of its worktree: a relative path, never out of it.
# (No component starts with '.', so none is '..'.)
PLAYBOOK_RE = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\.ya?ml$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Node(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=NODE_NAME_RE)
    role: Literal["control-plane", "worker", "etcd", "loadbalancer"]
    # The step at which the node enters Kubespray's inventory (e.g. the scale
    # step of a node being added); before it, the node runs but is no cluster host.
    joins_at: str | None = None
    # Kubespray groups when they are not the role's (a bug report's inventory).
    explicit_groups: list[Annotated[str, Field(pattern=GROUP_NAME_RE)]] | None = Field(default=None, alias="groups")
    host_vars: dict[str, object] = Field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return ROLE_GROUPS[self.role] if self.explicit_groups is None else self.explicit_groups

    @property
    def molecule_groups(self) -> list[str]:
        """The groups of the node's Molecule platform (the load balancer's is `lb`)."""
        return self.groups or ["lb"]


class Step(Strict):
    name: str = Field(pattern=NAME_RE)
    playbook: str = Field(pattern=PLAYBOOK_RE)
    phase: Literal["prepare", "converge"] = "converge"
    limit: str | None = None
    tags: list[str] | None = None  # None: the scenario's tags
    skip_tags: list[str] | None = None
    extra_vars: dict[str, object] = Field(default_factory=dict)
    # With `harness run --from OLD --ref NEW`: the Kubespray the step runs with. None: the
    # deploy (phase prepare) with the old release, as the cluster was built; the rest with the new.
    ref: Literal["from", "to"] | None = None

    def runs_at_from(self) -> bool:
        return self.ref == "from" if self.ref is not None else self.phase == "prepare"


class NodeFile(Strict):
    """A file a node holds before the first step, as the reporter's machines held it
    (their /etc/resolv.conf, say); written into the node's container, nowhere else."""

    path: str
    content: str
    hosts: list[str] | None = None  # None: every node but the load balancer

    @field_validator("path")
    @classmethod
    def _absolute_and_plain(cls, path: str) -> str:
        parts = path.split("/")
        plain = all(part not in ("", ".", "..") for part in parts[1:]) and "\0" not in path
        if not path.startswith("/") or len(parts) < 2 or not plain:
            raise ValueError(f"{path!r} is not an absolute path of plain names (no '.', '..' or '//')")
        return path


class FailureExpectation(Strict):
    """Where the bug shows: this task, in this step, failing on exactly these hosts, saying this.

    A failure anywhere else (another step, another host, another message) is not the bug."""

    task: str = Field(min_length=1)
    step: str = Field(min_length=1)
    hosts: tuple[str, ...]
    # A bug report shows the failures its reporter pasted, often one of several ("... similar
    # failures ..."): then the same failure on more hosts than these is still the bug.
    more_hosts_may_fail: bool = False
    # A substring of the failure's msg, stderr, module_stdout or exception; never empty,
    # since an empty string is in every message. A failure with nothing to say gives `rc`.
    message: str | None = None
    rc: int | None = None

    @field_validator("hosts")
    @classmethod
    def _some_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        if not hosts:
            raise ValueError("name every host the task fails on (an empty list would match a failure anywhere)")
        return hosts

    @field_validator("message")
    @classmethod
    def _not_blank(cls, message: str | None) -> str | None:
        if message is not None and not message.strip():
            raise ValueError("must not be empty: an empty message is part of every failure's message")
        return message

    @model_validator(mode="after")
    def _says_something(self) -> FailureExpectation:
        if self.message is None and self.rc is None:
            raise ValueError("a failure expectation needs a message (a substring of the failure's text) or an rc")
        return self

    def describe(self) -> str:
        said = [f"{self.message!r}"] if self.message is not None else []
        said += [f"rc={self.rc}"] if self.rc is not None else []
        hosts = ", ".join(self.hosts) + (" (or more)" if self.more_hosts_may_fail else "")
        return f"fail at {self.task!r} in step {self.step} on {hosts} with {' and '.join(said)}"


class Expectation(Strict):
    """`pass`, or `fail` at a named task, step and hosts, with a message substring."""

    fail: FailureExpectation | None = None

    @property
    def passes(self) -> bool:
        return self.fail is None

    def describe(self) -> str:
        return "pass" if self.fail is None else self.fail.describe()


class Scenario(Strict):
    name: str
    directory: Path
    description: str = ""
    nodes: list[Node]
    group_vars: dict[str, dict[str, object]] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    steps: list[Step]
    default_refs: list[str] = Field(default_factory=list)
    expectations: dict[str, Expectation] = Field(default_factory=dict)
    # Host checks (testinfra test names, shell patterns) this scenario lets be skipped;
    # any other skipped check keeps a run from passing.
    optional_checks: list[str] = Field(default_factory=list)
    # The scenario needs to reach beyond its containers (Debian's mirror, a download): its
    # network is then not internal, and the run says so.
    egress: bool = False
    files: list[NodeFile] = Field(default_factory=list)

    @field_validator("expectations", mode="before")
    @classmethod
    def _pass_shorthand(cls, value: object) -> object:
        if isinstance(value, dict):
            return {ref: ({} if exp == "pass" else exp) for ref, exp in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [node.name for node in self.nodes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"node name used twice: {', '.join(duplicates)}")
        step_names = [step.name for step in self.steps]
        if len(set(step_names)) != len(step_names):
            raise ValueError(f"step names must be unique: {', '.join(step_names)}")
        if not any(node.role == "control-plane" for node in self.nodes):
            raise ValueError("no node has role control-plane")
        known_groups = KUBESPRAY_GROUPS | {group for node in self.nodes for group in node.groups}
        for group in self.group_vars:
            if not re.match(GROUP_NAME_RE, group):
                raise ValueError(f"group_vars: {group!r} is not an Ansible group name {GROUP_NAME_RULE}")
            if group not in known_groups:
                raise ValueError(f"group_vars for unknown group {group!r} (known: {', '.join(sorted(known_groups))})")
        for node in self.nodes:
            if node.joins_at is not None and node.joins_at not in step_names:
                raise ValueError(f"node {node.name!r}: joins_at {node.joins_at!r} is not a step of this scenario")
        for file in self.files:
            unknown = sorted(set(file.hosts or []) - set(names))
            if unknown:
                raise ValueError(f"files: {file.path} is for {', '.join(unknown)}, which no node is named")
        for ref, expectation in self.expectations.items():
            problem = expectation.fail and failure_expectation_problem(self, expectation.fail)
            if problem:
                raise ValueError(f"expectations.{ref}: {problem}")
        for step in self.steps:
            known = {node.name for node in self.kubespray_nodes(step)} | known_groups
            if step.limit and not _limit_names_known(step.limit, known):
                raise ValueError(
                    f"step {step.name!r}: --limit {step.limit!r} names no node or group in that step's inventory"
                )
        return self

    def kubespray_nodes(self, step: Step | None = None) -> list[Node]:
        """The cluster's hosts in Kubespray's inventory at a step (default: after the last)."""
        joined = {s.name for s in self.steps[: self.steps.index(step) + 1]} if step else {s.name for s in self.steps}
        return [node for node in self.nodes if node.groups and (node.joins_at is None or node.joins_at in joined)]

    def nodes_holding(self, file: NodeFile) -> list[Node]:
        if file.hosts is None:
            return [node for node in self.nodes if node.role != "loadbalancer"]
        return [node for node in self.nodes if node.name in file.hosts]

    def nodes_with_role(self, role: str) -> list[Node]:
        return [node for node in self.nodes if node.role == role]

    def steps_of(self, phase: str) -> list[Step]:
        return [step for step in self.steps if step.phase == phase]

    def step_tags(self, step: Step) -> list[str]:
        return self.tags if step.tags is None else step.tags


def failure_expectation_problem(scenario: Scenario, fail: FailureExpectation) -> str | None:
    """Why a failure expectation cannot happen in this scenario (unknown step, hosts not in it), or None."""
    step = next((step for step in scenario.steps if step.name == fail.step), None)
    if step is None:
        steps = ", ".join(step.name for step in scenario.steps)
        return f"step {fail.step!r} is not a step of scenario {scenario.name} ({steps})"
    in_inventory = {node.name for node in scenario.kubespray_nodes(step)}
    strangers = [host for host in fail.hosts if host not in in_inventory]
    if strangers:
        return (
            f"host(s) {', '.join(strangers)} are not Kubespray hosts of scenario {scenario.name} at step {fail.step} "
            f"(those are {', '.join(sorted(in_inventory))})"
        )
    return None


def _limit_names_known(limit: str, known: set[str]) -> bool:
    for part in re.split(r"[:,]", limit):
        name = part.lstrip("!&")
        if name and not any(ch in name for ch in "*?[~") and name not in known:
            return False
    return True


def available(scenarios_dir: Path) -> list[str]:
    return sorted(path.parent.name for path in scenarios_dir.glob("*/scenario.yml"))


def load(scenarios_dir: Path, name: str) -> Scenario:
    path = scenarios_dir / name / "scenario.yml"
    if not path.is_file():
        raise HarnessError(f"unknown scenario {name!r}: available are {', '.join(available(scenarios_dir)) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise HarnessError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise HarnessError(f"{path} must be a mapping of scenario fields")
    for reserved in ("name", "directory"):
        if reserved in data:
            raise HarnessError(f"{path}: {reserved!r} is not a scenario field (the folder's name is the scenario's)")
    data["group_vars"] = _with_group_var_files(path.parent, data.get("group_vars"))
    try:
        scenario = Scenario(name=name, directory=path.parent, **data)
    except ValidationError as exc:
        raise HarnessError(f"{path}: {validation_problem(exc)}") from exc
    return scenario


def _with_group_var_files(directory: Path, inline: object) -> object:
    """Group vars from `group_vars/<group>.yml` files of the scenario folder, under
    those written in scenario.yml (which win where both set a variable)."""
    if inline is not None and not isinstance(inline, dict):
        return inline  # the model reports the wrong type
    merged: dict[str, dict[str, object]] = {}
    for file in sorted((directory / "group_vars").glob("*.yml")):
        try:
            variables = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HarnessError(f"{file} is not valid YAML: {exc}") from exc
        if not isinstance(variables, dict):
            raise HarnessError(f"{file} must be a mapping of variable names to values")
        merged[file.stem] = variables
    for group, variables in (inline or {}).items():
        merged[group] = {**merged.get(group, {}), **(variables or {})}
    return merged
