"""Which host checks apply to a run: facts of the run that a check declares it needs.

A check module of the shared verifier (scenarios/shared/tests/) says what it needs with
`pytestmark = pytest.mark.applies_when(external_loadbalancer=True)` (or a single check with
the decorator); scenarios/conftest.py deselects the checks whose needs the run does not meet
and writes why into the run's checks-not-applicable.json. A check that did not apply is
listed with its reason, never counted as passed. The facts come from the run itself: the
scenario's nodes, the run's Kubespray variables, and what the ref's tasks write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from harness.kubespray.tasks import EtcHostsTasks
from harness.scenario import Scenario

LOCALHOST_BALANCERS = ("haproxy", "nginx")


@dataclass(frozen=True)
class RunFacts:
    # The scenario has a load balancer node in front of the control planes' API servers.
    external_loadbalancer: bool
    # What balances the API server on each worker at 127.0.0.1 ("haproxy", "nginx"), or None.
    localhost_loadbalancer: str | None
    # The ref writes its inventory block into /etc/hosts (up to v2.28).
    inventory_block: bool
    # The ref writes the API server's load balancer name into /etc/hosts.
    apiserver_name: bool

    @classmethod
    def of_run(cls, scenario: Scenario, variables: Mapping[str, Mapping[str, Any]], writes: EtcHostsTasks) -> RunFacts:
        return cls(
            external_loadbalancer=bool(scenario.nodes_with_role("loadbalancer")),
            localhost_loadbalancer=localhost_loadbalancer(scenario, variables),
            inventory_block=writes.inventory_block,
            apiserver_name=writes.apiserver_name,
        )

    def unmet(self, ref: str, wanted: Mapping[str, object]) -> str | None:
        """Why a check that wants these facts does not apply to this run, or None if it does."""
        known = {field.name for field in fields(self)}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise ValueError(f"applies_when: no run fact {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        reasons = [
            _why_not(ref, name, value, getattr(self, name))
            for name, value in wanted.items()
            if getattr(self, name) != value
        ]
        return "; ".join(reasons) or None


def localhost_loadbalancer(scenario: Scenario, variables: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The workers' localhost API server balancer, as the run's variables set it (Kubespray's
    kubernetes/node role installs it on every node that is not a control plane)."""
    workers = [node.name for node in scenario.kubespray_nodes() if node.groups == ["kube_node"]]
    for worker in workers:
        worker_vars = variables.get(worker, {})
        if _truthy(worker_vars.get("loadbalancer_apiserver_localhost")):
            return str(worker_vars.get("loadbalancer_apiserver_type", "nginx"))
    return None


def _truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


_FACT_WORDS = {
    "inventory_block": "its inventory block",
    "apiserver_name": "the API server's name",
}


def _why_not(ref: str, name: str, wanted: object, actual: object) -> str:
    if name in _FACT_WORDS:
        verb = "does not write" if wanted else "writes"
        return f"Kubespray at {ref} {verb} {_FACT_WORDS[name]} into /etc/hosts"
    if name == "external_loadbalancer":
        return "the scenario has no load balancer node" if wanted else "the scenario has a load balancer node"
    if wanted is None:
        return f"the workers reach the API server through a localhost {actual}"
    return f"the workers' localhost API server load balancer is {actual or 'not set up'}, not {wanted}"
