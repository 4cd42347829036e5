"""Which host checks apply to a run: facts read from the scenario, the run's variables and the ref's writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import scenario as scenarios
from harness.applicability import RunFacts, localhost_loadbalancer
from harness.kubespray.tasks import EtcHostsTasks

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WRITES_BLOCK = EtcHostsTasks(inventory_block=True, apiserver_name=True)


def _variables(scenario: scenarios.Scenario, **values: object) -> dict[str, dict[str, object]]:
    return {node.name: dict(values) for node in scenario.kubespray_nodes()}


def _facts(name: str, **values: object) -> RunFacts:
    scenario = scenarios.load(SCENARIOS, name)
    return RunFacts.of_run(scenario, _variables(scenario, **values), WRITES_BLOCK)


def test_the_workers_localhost_balancer_is_the_type_the_variables_name() -> None:
    facts = _facts("upgrade-node-based", loadbalancer_apiserver_localhost=True, loadbalancer_apiserver_type="nginx")

    assert facts.localhost_loadbalancer == "nginx"
    assert facts.unmet("v2.27.1", {"localhost_loadbalancer": "nginx"}) is None
    assert facts.unmet("v2.27.1", {"localhost_loadbalancer": "haproxy"}) == (
        "the workers' localhost API server load balancer is nginx, not haproxy"
    )


@pytest.mark.parametrize("localhost", [False, "False", "false"])
def test_without_loadbalancer_apiserver_localhost_no_localhost_balancer_check_applies(localhost: object) -> None:
    facts = _facts("scale-limit-external-lb", loadbalancer_apiserver_localhost=localhost)

    assert facts.localhost_loadbalancer is None
    assert facts.unmet("c557adf91", {"localhost_loadbalancer": "haproxy"}) == (
        "the workers' localhost API server load balancer is not set up, not haproxy"
    )


def test_only_workers_count_for_the_localhost_balancer() -> None:
    """Kubespray installs it on nodes that are not control planes: theirs are the variables read."""
    scenario = scenarios.load(SCENARIOS, "upgrade-node-based")
    variables = _variables(scenario, loadbalancer_apiserver_localhost=False)
    variables["km-1"] = {"loadbalancer_apiserver_localhost": True, "loadbalancer_apiserver_type": "haproxy"}

    assert localhost_loadbalancer(scenario, variables) is None


def test_a_scenario_without_a_load_balancer_node_skips_the_load_balancer_checks(tmp_path: Path) -> None:
    folder = tmp_path / "no-lb"
    folder.mkdir()
    text = (SCENARIOS / "scale-limit" / "scenario.yml").read_text()
    text = text.replace("  - {name: lb-1, role: loadbalancer}\n", "").replace("<< address('lb-1') >>", "10.0.0.9")
    (folder / "scenario.yml").write_text(text)
    scenario = scenarios.load(tmp_path, "no-lb")

    facts = RunFacts.of_run(scenario, _variables(scenario), WRITES_BLOCK)

    assert not facts.external_loadbalancer
    assert facts.unmet("v2.27.1", {"external_loadbalancer": True}) == "the scenario has no load balancer node"


def test_reasons_of_every_unmet_fact_are_joined() -> None:
    facts = RunFacts(
        external_loadbalancer=True, localhost_loadbalancer=None, inventory_block=False, apiserver_name=False
    )

    why = facts.unmet("v2.29.0", {"inventory_block": True, "apiserver_name": True, "external_loadbalancer": True})

    assert why == (
        "Kubespray at v2.29.0 does not write its inventory block into /etc/hosts; "
        "Kubespray at v2.29.0 does not write the API server's name into /etc/hosts"
    )


def test_a_check_that_wants_an_unknown_fact_is_a_programming_error() -> None:
    facts = _facts("upgrade-node-based")

    with pytest.raises(ValueError, match="no run fact lb_type"):
        facts.unmet("v2.27.1", {"lb_type": "nginx"})
