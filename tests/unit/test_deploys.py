"""Saved deploys are keyed by everything the deploy's result depends on, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import deploys
from harness import scenario as scenarios
from harness.context import RunContext, image_variable

REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
OLD_SHA = "f9ebd45c7496" + "0" * 28
IMAGES = ("kubespray-harness/node:aaaa", "kubespray-harness/lb:bbbb")


@pytest.fixture
def scenario(tmp_path: Path) -> scenarios.Scenario:
    folder = tmp_path / "upgrade-node-based"
    folder.mkdir()
    shutil.copy(REPO_SCENARIOS / "upgrade-node-based" / "scenario.yml", folder / "scenario.yml")
    return scenarios.load(tmp_path, "upgrade-node-based")


def _key(scenario: scenarios.Scenario, sha: str = OLD_SHA, images=IMAGES, egress: bool = True) -> str:
    return deploys.key_for(scenario, sha, *images, egress)


def test_the_same_inputs_give_the_same_key(scenario) -> None:
    assert _key(scenario) == _key(scenario)


@pytest.mark.parametrize(
    "changed",
    [
        {"sha": "0" * 40},
        {"images": ("kubespray-harness/node:cccc", IMAGES[1])},
        {"images": (IMAGES[0], "kubespray-harness/lb:cccc")},
        {"egress": False},
    ],
    ids=["old-release-commit", "node-image", "lb-image", "sealed-network"],
)
def test_another_old_commit_image_or_network_is_another_deploy(scenario, changed) -> None:
    assert _key(scenario, **changed) != _key(scenario)


def test_an_edited_scenario_is_another_deploy(scenario) -> None:
    before = _key(scenario)
    scenario_file = scenario.directory / "scenario.yml"
    scenario_file.write_text(scenario_file.read_text().replace("port: 8443", "port: 9443"))

    assert _key(scenario) != before


def test_the_rendered_molecule_file_does_not_change_the_key(scenario) -> None:
    before = _key(scenario)
    (scenario.directory / "molecule.yml").write_text("platforms: []\n")

    assert _key(scenario) == before


def test_a_saved_deploys_nodes_boot_from_its_images(tmp_path: Path, scenario) -> None:
    fresh = RunContext(
        scenario=scenario.name,
        ref="v2.27.1",
        sha="1" * 40,
        run_id="abcd1234",
        run_dir=tmp_path,
        worktree=tmp_path / "kubespray",
        controller_image="kubespray-harness/controller:x",
        node_image=IMAGES[0],
        lb_image=IMAGES[1],
        subnet="172.30.7.0/24",
    )
    reused = RunContext(**{**fresh.__dict__, "saved_deploy": str(tmp_path / "deploys" / "0123456789abcdef")})

    fresh_env, reused_env = fresh.molecule_env(scenario), reused.molecule_env(scenario)

    assert fresh_env[image_variable("km-1")] == IMAGES[0]
    assert fresh_env[image_variable("lb-1")] == IMAGES[1]
    assert reused_env[image_variable("km-1")] == "kubespray-harness/deploy:0123456789abcdef-km-1"
    assert reused_env[image_variable("lb-1")] == "kubespray-harness/deploy:0123456789abcdef-lb-1"
    assert fresh_env["HARNESS_SUBNET"] == "172.30.7.0/24"
