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
from harness.checks import NOT_APPLICABLE_FILE
from harness.kubespray import tasks
from harness.settings import Settings

sys.path.insert(0, str(Path(__file__).parent / "shared"))

# Checks that hold only where the run's Kubespray does a thing carry
# `@pytest.mark.applies_when(inventory_block=True)` (fields of tasks.EtcHostsTasks); the others
# are deselected, named in the run's checks-not-applicable.json, and never counted as passed.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "applies_when(**writes): a check that holds only where the run's Kubespray makes these writes"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    conditional = [item for item in items if item.get_closest_marker("applies_when")]
    if not conditional:
        return
    context, writes = _current_run()[0], _etc_hosts_writes()
    not_applicable = {}
    for item in conditional:
        wanted = item.get_closest_marker("applies_when").kwargs
        differing = {name: value for name, value in wanted.items() if getattr(writes, name) != value}
        if differing:
            not_applicable[item.name] = _why_not(context.ref, differing)
    (context.run_dir / NOT_APPLICABLE_FILE).write_text(json.dumps(not_applicable, indent=2) + "\n")
    if not_applicable:
        config.hook.pytest_deselected(items=[item for item in items if item.name in not_applicable])
        items[:] = [item for item in items if item.name not in not_applicable]


def _why_not(ref: str, differing: dict[str, bool]) -> str:
    writes = {"inventory_block": "its inventory block", "apiserver_name": "the API server's name"}
    return "; ".join(
        f"Kubespray at {ref} {'does not write' if wanted else 'writes'} {writes[name]} into /etc/hosts"
        for name, wanted in differing.items()
    )


@functools.cache
def _current_run() -> tuple[run_context.RunContext, scenarios.Scenario]:
    scenarios_dir = Path(os.environ.get("HARNESS_SCENARIOS_DIR") or Path(__file__).parent)
    scenario = scenarios.load(scenarios_dir, os.environ["MOLECULE_SCENARIO_NAME"])
    return run_context.RunContext.load(run_context.current_run_dir(Settings.from_env(), scenario.name)), scenario


@functools.cache
def _run_variables() -> dict[str, dict[str, Any]]:
    return steps.run_variables(*_current_run())


@functools.cache
def _etc_hosts_writes() -> tasks.EtcHostsTasks:
    context, scenario = _current_run()
    cluster = {node.name for node in scenario.kubespray_nodes()}
    ref_tasks = tasks.etc_hosts_tasks(context.worktree, scenario.tags or None)
    return tasks.etc_hosts_writes(ref_tasks, {h: v for h, v in _run_variables().items() if h in cluster})


@pytest.fixture(scope="session")
def molecule_inventory(request: pytest.FixtureRequest) -> str:
    inventory = request.config.getoption("ansible_inventory")
    if not inventory:
        pytest.fail("run these checks through Molecule's verifier (it passes --ansible-inventory)")
    return inventory


def _nodes(inventory: str, group: str) -> dict[str, str]:
    """Kubespray name (the node's hostname) -> its address, for a Molecule group."""
    nodes = {}
    for name in AnsibleRunner(inventory).get_hosts(group):
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
def variables_of(run_variables: dict[str, dict[str, Any]], node_name) -> Callable[..., dict[str, Any]]:
    """The run's Kubespray variables for a testinfra host."""
    return lambda host: run_variables[node_name(host)]


# Each name's first address as `getent hosts` gives it, one line per name (nothing after the
# name when it does not resolve): one command for every name, each command being a round trip.
RESOLVE_SCRIPT = """for name in "$@"; do
  printf '%s %s\\n' "$name" "$(getent hosts "$name" | awk 'NR == 1 {print $1}')"
done"""


@pytest.fixture(scope="session")
def resolve() -> Callable[..., dict[str, str | None]]:
    """The addresses a process on the node gets for names (`getent hosts`: /etc/hosts first,
    as the node's nsswitch says); None for a name that does not resolve."""

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
    joined later; for a founding node, the hosts of the deploy's inventory."""
    founding = {node.name for node in scenario.kubespray_nodes(scenario.steps[0])}

    def known_to(host) -> dict[str, str]:
        names = set(cluster_nodes) if node_name(host) not in founding else founding
        return {node: address for node, address in cluster_nodes.items() if node in names}

    return known_to
