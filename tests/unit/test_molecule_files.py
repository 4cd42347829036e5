"""A scenario's Molecule platforms are rendered from its scenario.yml: one source, one set of node flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import molecule
from harness import scenario as scenarios
from harness.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "scenarios"


def _platforms(scenario: scenarios.Scenario) -> list[dict]:
    return yaml.safe_load(molecule.render_platforms(scenario))["platforms"]


@pytest.mark.parametrize("name", scenarios.available(SCENARIOS))
def test_each_node_is_a_platform_with_its_groups(name: str) -> None:
    scenario = scenarios.load(SCENARIOS, name)

    platforms = {platform["hostname"]: platform for platform in _platforms(scenario)}

    assert {host: p["groups"] for host, p in platforms.items()} == {n.name: n.molecule_groups for n in scenario.nodes}
    assert all(p["name"] == f"{host}-${{HARNESS_RUN_ID:-molecule}}" for host, p in platforms.items())


def test_the_load_balancer_runs_the_lb_image_and_the_others_the_node_image() -> None:
    platforms = _platforms(scenarios.load(SCENARIOS, "upgrade-node-based"))

    images = {platform["hostname"]: platform["image"] for platform in platforms}

    variable = {name: "HARNESS_IMAGE_" + name.upper().replace("-", "_") for name in images}
    assert images == {
        **{name: f"${{{variable[name]}:-kubespray-harness/node:current}}" for name in images},
        "lb-1": "${HARNESS_IMAGE_LB_1:-kubespray-harness/lb:current}",
    }


def test_each_node_has_its_own_fixed_address_on_the_runs_subnet() -> None:
    platforms = _platforms(scenarios.load(SCENARIOS, "upgrade-node-based"))

    addresses = [platform["networks"][0]["ipv4_address"] for platform in platforms]

    assert addresses == [f"${{HARNESS_SUBNET_PREFIX:-172.30.250}}.{host}" for host in range(11, 17)]
    for platform in platforms:
        (network,) = platform["docker_networks"]
        assert network["ipam_config"] == [
            {"subnet": "${HARNESS_SUBNET:-172.30.250.0/24}", "iprange": "${HARNESS_IP_RANGE:-172.30.250.128/25}"}
        ]


def test_every_platform_carries_the_run_label_and_the_unprivileged_systemd_flags() -> None:
    for platform in _platforms(scenarios.load(SCENARIOS, "scale-limit")):
        assert platform["labels"] == {"kubespray-harness.run-id": "${HARNESS_RUN_ID:-molecule}"}
        assert platform["capabilities"] == ["SYS_ADMIN"]
        assert "security_opts" not in platform  # Docker's default seccomp profile
        assert platform["cgroupns_mode"] == "private"
        assert "volumes" not in platform  # no host path, the host's /sys/fs/cgroup above all
        assert platform["command"] == "/lib/systemd/systemd"
        assert "privileged" not in platform


def test_the_runs_network_is_internal_when_the_harness_says_so() -> None:
    for platform in _platforms(scenarios.load(SCENARIOS, "upgrade-node-based")):
        (network,) = platform["docker_networks"]
        assert network["internal"] == "${HARNESS_NETWORK_INTERNAL:-false}"


def test_the_node_flags_are_written_once_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "grep", "-l", "cgroupns_mode", "--", ":!*.md", ":!tests/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert tracked == ["harness/templates/molecule.yml.j2"]


def test_a_scenario_folder_needs_only_its_scenario_yml(tmp_path: Path) -> None:
    folder = tmp_path / "one-file"
    folder.mkdir()
    (folder / "scenario.yml").write_text((SCENARIOS / "scale-limit" / "scenario.yml").read_text())

    written = molecule.write_platforms(scenarios.load(tmp_path, "one-file"))

    assert written == folder / "molecule.yml"
    assert [p["hostname"] for p in yaml.safe_load(written.read_text())["platforms"]][-2:] == ["kw-3", "lb-1"]


def test_a_stale_molecule_yml_is_rendered_anew_and_molecule_told_to_start_again(tmp_path: Path) -> None:
    folder = tmp_path / "changed"
    folder.mkdir()
    (folder / "scenario.yml").write_text((SCENARIOS / "upgrade-node-based" / "scenario.yml").read_text())
    scenario = scenarios.load(tmp_path, "changed")
    (folder / "molecule.yml").write_text("platforms: []\n")

    with pytest.raises(HarnessError, match=r"did not match scenario\.yml \(written anew now\): run the same molecule"):
        molecule.check_platforms_current(scenario)

    assert (folder / "molecule.yml").read_text() == molecule.render_platforms(scenario)
    molecule.check_platforms_current(scenario)  # now current: no error


def test_molecule_reads_the_shared_base_config() -> None:
    base = yaml.safe_load(molecule.BASE_CONFIG.read_text())

    assert base["verifier"]["directory"] == "../shared/tests"
    assert base["ansible"]["playbooks"] == {"prepare": "../shared/prepare.yml", "converge": "../shared/converge.yml"}
    assert (SCENARIOS / "upgrade-node-based" / base["verifier"]["directory"]).is_dir()


@pytest.mark.parametrize("name", scenarios.available(SCENARIOS))
def test_molecule_accepts_the_base_config_under_the_rendered_platforms(name: str, tmp_path: Path) -> None:
    molecule.write_platforms(scenarios.load(SCENARIOS, name))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path),
    }
    argv = [
        str(bin_dir / "molecule"),
        "--base-config",
        str(molecule.BASE_CONFIG),
        "list",
        "-s",
        name,
        "--format",
        "plain",
    ]

    listed = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)

    assert listed.returncode == 0, listed.stderr[-2000:]
    assert len([line for line in listed.stdout.splitlines() if name in line]) == len(
        scenarios.load(SCENARIOS, name).nodes
    )
