"""A scenario's nodes for Molecule's delegated driver: `harness nodes up` and `down`.

Molecule's create and destroy playbooks (scenarios/shared/create.yml, destroy.yml) call these;
the engine work is harness.provider's (every flag there, with why). What a run's nodes are comes
from the scenario and the environment `harness run` gives Molecule (harness.context); without it,
as `molecule test -s NAME` runs on its own, the defaults below: run id `molecule`, a fixed /24,
the newest node images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness import images, provider, subnets
from harness.context import image_variable
from harness.scenario import Scenario

STANDALONE_RUN_ID = "molecule"
# How Ansible (and testinfra after it) reaches a node: `docker exec`, as Molecule's docker
# driver set it; Kubespray's own steps reach the nodes over SSH from the controller.
CONNECTION = "community.docker.docker"


def run_id(env: Mapping[str, str]) -> str:
    return env.get("HARNESS_RUN_ID") or STANDALONE_RUN_ID


def network_name(env: Mapping[str, str]) -> str:
    return f"kh-{run_id(env)}"


def subnet_of(env: Mapping[str, str]) -> str:
    return env.get("HARNESS_SUBNET") or subnets.STANDALONE_SUBNET


def specs(scenario: Scenario, env: Mapping[str, str], repository: str = images.REPOSITORY) -> list[provider.NodeSpec]:
    """Each node's container, image and address, as the run's environment says (a node without
    an image of its own boots the newest build in `repository`)."""
    prefix = subnets.prefix(subnet_of(env))
    found = []
    for index, node in enumerate(scenario.nodes):
        default_image = images.current_alias("lb" if node.role == "loadbalancer" else "node", repository)
        found.append(
            provider.NodeSpec(
                container=f"{node.name}-{run_id(env)}",
                hostname=node.name,
                image=env.get(image_variable(node.name)) or default_image,
                network=network_name(env),
                address=f"{prefix}.{subnets.node_host(index)}",
                run_id=run_id(env),
            )
        )
    return found


def up(scenario: Scenario, env: Mapping[str, str], repository: str = images.REPOSITORY) -> list[dict[str, Any]]:
    """Start the scenario's nodes (and, on its own, the network `harness run` would have made
    first); Molecule's instance config for them."""
    client = provider.connect()
    if not provider.network_exists(client, network_name(env)):
        internal = env.get("HARNESS_NETWORK_INTERNAL", "false") == "true"
        provider.create_run_network(client, network_name(env), run_id(env), internal, [subnet_of(env)])
    nodes = specs(scenario, env, repository)
    provider.start_nodes(client, nodes)
    return [instance_config(node) for node in nodes]


def instance_config(node: provider.NodeSpec) -> dict[str, Any]:
    """A node as Molecule's delegated driver gives it to Ansible: ansible_host is the container."""
    return {"instance": node.container, "address": node.container, "user": "root", "connection": CONNECTION}


def down(env: Mapping[str, str]) -> int:
    """Remove the run's nodes and network (all that carries its label); how many objects."""
    return provider.remove_run(provider.connect(), run_id(env))
