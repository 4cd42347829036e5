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

    platforms = {platform["name"]: platform for platform in _platforms(scenario)}

    assert {name: p["groups"] for name, p in platforms.items()} == {
        f"{n.name}-${{HARNESS_RUN_ID:-molecule}}": n.molecule_groups for n in scenario.nodes
    }


def test_platforms_say_nothing_of_images_addresses_or_engine_flags() -> None:
    """The harness starts the nodes (harness.nodes, harness.provider): molecule.yml only names
    and groups them, so the engine flags live in one place."""
    for platform in _platforms(scenarios.load(SCENARIOS, "scale-limit")):
        assert set(platform) == {"name", "groups"}, platform


def test_the_node_flags_are_written_once_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "grep", "-l", "SYS_ADMIN", "--", ":!*.md", ":!tests/", ":!images/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert tracked == ["harness/provider.py"]


def test_a_scenario_folder_needs_only_its_scenario_yml(tmp_path: Path) -> None:
    folder = tmp_path / "one-file"
    folder.mkdir()
    (folder / "scenario.yml").write_text((SCENARIOS / "scale-limit" / "scenario.yml").read_text())

    written = molecule.write_platforms(scenarios.load(tmp_path, "one-file"))

    assert written == folder / "molecule.yml"
    names = [p["name"] for p in yaml.safe_load(written.read_text())["platforms"]]
    assert names[-2:] == ["kw-3-${HARNESS_RUN_ID:-molecule}", "lb-1-${HARNESS_RUN_ID:-molecule}"]


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
    assert base["ansible"]["playbooks"] == {
        "create": "../shared/create.yml",
        "destroy": "../shared/destroy.yml",
        "prepare": "../shared/prepare.yml",
        "converge": "../shared/converge.yml",
    }
    assert base["driver"] == {"name": "default", "options": {"managed": True}}  # delegated: the harness's nodes
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
