"""Fixtures shared by every scenario's testinfra tests (run by Molecule's verifier).

Expected values come from the nodes themselves: a control plane's address is
the IPv4 address of its default-route interface, which is what Kubespray
derives (fallback_ip) when the inventory sets no ip/access_ip.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

from harness import context as run_context
from harness import scenario as scenarios
from harness import steps
from harness.applicability import RunFacts
from harness.checks import NOT_APPLICABLE_FILE
from harness.kubespray import tasks
from harness.settings import Settings

sys.path.insert(0, str(Path(__file__).parent / "shared"))

# A check module, or one check, says which runs it applies to with
# `pytest.mark.applies_when(...)`, on facts of harness.applicability.RunFacts (load balancer
# node, the workers' localhost balancer, what the ref writes into /etc/hosts). Checks that do
# not apply are deselected, named in the run's checks-not-applicable.json with the reason,
# and never counted as passed.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "applies_when(**facts): a check that holds only on runs with these facts (harness.applicability)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    context = _current_run()[0]
    facts = _run_facts()
    not_applicable = {}
    for item in items:
        wanted = {}
        for marker in reversed(list(item.iter_markers("applies_when"))):  # the check's own over its module's
            wanted.update(marker.kwargs)
        why = facts.unmet(context.ref, wanted)
        if why:
            not_applicable[item.name] = why
    (context.run_dir / NOT_APPLICABLE_FILE).write_text(json.dumps(not_applicable, indent=2) + "\n")
    if not_applicable:
        config.hook.pytest_deselected(items=[item for item in items if item.name in not_applicable])
        items[:] = [item for item in items if item.name not in not_applicable]


@functools.cache
def _current_run() -> tuple[run_context.RunContext, scenarios.Scenario]:
    scenarios_dir = Path(os.environ.get("HARNESS_SCENARIOS_DIR") or Path(__file__).parent)
    scenario = scenarios.load(scenarios_dir, os.environ["MOLECULE_SCENARIO_NAME"])
    return run_context.RunContext.load(run_context.current_run_dir(Settings.from_env(), scenario.name)), scenario


@functools.cache
def _run_variables() -> dict[str, dict[str, Any]]:
    return steps.run_variables(*_current_run())


@functools.cache
def _run_facts() -> RunFacts:
    context, scenario = _current_run()
    cluster = {node.name for node in scenario.kubespray_nodes()}
    ref_tasks = tasks.etc_hosts_tasks(context.worktree, scenario.tags or None)
    writes = tasks.etc_hosts_writes(ref_tasks, {h: v for h, v in _run_variables().items() if h in cluster})
    return RunFacts.of_run(scenario, _run_variables(), writes)


@pytest.fixture(scope="session")
def molecule_inventory(request: pytest.FixtureRequest) -> str:
    inventory = request.config.getoption("ansible_inventory")
    if not inventory:
        pytest.fail("run these checks through Molecule's verifier (it passes --ansible-inventory)")
    return inventory


def _nodes(inventory: str, group: str) -> dict[str, str]:
    """Kubespray name (the node's hostname) -> its address, for a Molecule group."""
    nodes = {}
    # testinfra's shared runner: it reads the inventory (an `ansible-inventory` process) once for all groups.
    for name in AnsibleRunner.get_runner(inventory).get_hosts(group):
        node = testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)
        interface = node.interface.default()
        ipv4 = [address for address in interface.addresses if ":" not in address]
        nodes[node.check_output("hostname")] = ipv4[0]
    return nodes


@pytest.fixture(scope="session")
def control_planes(molecule_inventory: str) -> dict[str, str]:
    return _nodes(molecule_inventory, "kube_control_plane")


@pytest.fixture(scope="session")
def workers(molecule_inventory: str) -> dict[str, str]:
    return _nodes(molecule_inventory, "kube_node")


@pytest.fixture(scope="session")
def cluster_nodes(control_planes: dict[str, str], workers: dict[str, str]) -> dict[str, str]:
    return {**control_planes, **workers}


@pytest.fixture(scope="session")
def loadbalancer_address(molecule_inventory: str) -> str:
    return next(iter(_nodes(molecule_inventory, "lb").values()))


@pytest.fixture(scope="session")
def scenario() -> scenarios.Scenario:
    """The scenario under test, as scenario.yml declares it."""
    return _current_run()[1]


@pytest.fixture(scope="session")
def run_variables() -> dict[str, dict[str, Any]]:
    """The run's Kubespray variables per host (API server port, cluster domain, API server
    name): the scenario's or report's settings over the ref's own defaults."""
    return _run_variables()


@pytest.fixture(scope="session")
def before_deploy() -> Callable[..., str]:
    """A node file as it was before Kubespray's first run (kept by the prepare step)."""
    context = _current_run()[0]
    return lambda name, node: (context.before_deploy_dir / node / name).read_text()


@pytest.fixture(scope="session")
def node_name() -> Callable[..., str]:
    """A testinfra host's Kubespray name (its hostname), asked of the node once."""
    names: dict[str, str] = {}

    def name(host) -> str:
        key = host.backend.get_pytest_id()
        if key not in names:
            names[key] = host.check_output("hostname")
        return names[key]

    return name


@pytest.fixture(scope="session")
def api_servers(control_planes: dict[str, str], run_variables: dict[str, dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """Each control plane's API server: its address and the port the run gives it."""
    return {name: (address, run_variables[name]["kube_apiserver_port"]) for name, address in control_planes.items()}


@pytest.fixture(scope="session")
def balancer_port(variables_of) -> Callable[..., int]:
    """The port a node's localhost API server balancer listens on (the API server's by default)."""

    def port(host) -> int:
        variables = variables_of(host)
        return variables.get("loadbalancer_apiserver_port", variables["kube_apiserver_port"])

    return port


@pytest.fixture(scope="session")
def written_file(node_name) -> Callable[..., str]:
    """A file Kubespray must have written on the node: its content, or the check fails saying it is missing."""

    def content(host, path: str) -> str:
        file = host.file(path)
        if not file.exists:
            pytest.fail(f"{path} is missing on {node_name(host)}")
        return file.content_string

    return content


@pytest.fixture(scope="session")
def variables_of(run_variables: dict[str, dict[str, Any]], node_name) -> Callable[..., dict[str, Any]]:
    """The run's Kubespray variables for a testinfra host."""
    return lambda host: run_variables[node_name(host)]


# Each name's first address as the node's resolver reads it from /etc/hosts (`getent -s files
# hosts`), one line per name (nothing after the name when it is not there): one command for
# every name, each command being a round trip. Files only: `getent hosts` asks for an IPv6
# address first, which /etc/hosts lacks, and the DNS behind it (the sandbox's, not the
# reporter's) took 10 s a name on a sealed network before the IPv4 answer from the file.
RESOLVE_SCRIPT = """for name in "$@"; do
  printf '%s %s\\n' "$name" "$(getent -s files hosts "$name" | awk 'NR == 1 {print $1}')"
done"""


@pytest.fixture(scope="session")
def resolve() -> Callable[..., dict[str, str | None]]:
    """The addresses a process on the node gets for names from /etc/hosts, the file Kubespray
    writes and the node's resolver reads first; None for a name the file does not give."""

    def addresses(host, names: list[str]) -> dict[str, str | None]:
        placeholders = " ".join(["%s"] * len(names))
        output = host.check_output(f"sh -c %s resolve {placeholders}", RESOLVE_SCRIPT, *names)
        answers = dict(line.partition(" ")[::2] for line in output.splitlines())
        return {name: answers.get(name, "").strip() or None for name in names}

    return addresses


@pytest.fixture(scope="session")
def hosts_known_to(
    scenario: scenarios.Scenario, cluster_nodes: dict[str, str], node_name
) -> Callable[..., dict[str, str]]:
    """The cluster hosts a node's /etc/hosts block lists: every one for a node that
    joined later; for a founding node, the hosts of the deploy's inventory. Each under the
    name Kubespray writes: the host's `ansible_hostname`, which Ansible takes from the node's
    hostname (its inventory name here) up to the first dot; `km-1` stays `km-1`, a report's
    `cp-1.example.com` is `cp-1`."""
    founding = {node.name for node in scenario.kubespray_nodes(scenario.steps[0])}

    def known_to(host) -> dict[str, str]:
        names = set(cluster_nodes) if node_name(host) not in founding else founding
        return {node.split(".")[0]: address for node, address in cluster_nodes.items() if node in names}

    return known_to
