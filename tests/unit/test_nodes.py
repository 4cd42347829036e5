"""What `harness nodes up` starts, read from the scenario and the environment `harness run`
gives Molecule (or the standalone defaults of `molecule test -s NAME`)."""

from __future__ import annotations

from pathlib import Path

from harness import nodes
from harness import scenario as scenarios

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
UPGRADE = scenarios.load(SCENARIOS, "upgrade-node-based")
RUN_ENV = {
    "HARNESS_RUN_ID": "ab12cd34",
    "HARNESS_SUBNET": "172.30.7.0/24",
    "HARNESS_IMAGE_KW_1": "kubespray-harness/deploy:k-kw-1",
}


def test_under_a_run_each_node_is_named_for_it_on_its_network():
    specs = nodes.specs(UPGRADE, RUN_ENV)
    assert [s.container for s in specs] == [f"{n.name}-ab12cd34" for n in UPGRADE.nodes]
    assert {s.network for s in specs} == {"kh-ab12cd34"} and {s.run_id for s in specs} == {"ab12cd34"}
    assert [s.hostname for s in specs] == [n.name for n in UPGRADE.nodes]


def test_nodes_take_fixed_addresses_from_11_in_scenario_order():
    assert [s.address for s in nodes.specs(UPGRADE, RUN_ENV)] == [f"172.30.7.{h}" for h in range(11, 17)]


def test_a_node_given_an_image_boots_it_the_others_the_current_ones():
    images = {s.hostname: s.image for s in nodes.specs(UPGRADE, RUN_ENV)}
    assert images["kw-1"] == "kubespray-harness/deploy:k-kw-1"  # a saved deploy's node
    assert images["lb-1"] == "kubespray-harness/lb:current"
    assert {images[n] for n in ("km-1", "km-2", "km-3", "kw-2")} == {"kubespray-harness/node:current"}


def test_standalone_molecule_gets_the_fixed_run_id_and_subnet():
    specs = nodes.specs(UPGRADE, {})
    assert specs[0].container == "km-1-molecule" and specs[0].network == "kh-molecule"
    assert specs[0].address == "172.30.250.11"


def test_molecule_reaches_each_node_with_docker_exec_by_container_name():
    spec = nodes.specs(UPGRADE, RUN_ENV)[0]
    assert nodes.instance_config(spec) == {
        "instance": "km-1-ab12cd34",
        "address": "km-1-ab12cd34",
        "user": "root",
        "connection": "community.docker.docker",
    }
