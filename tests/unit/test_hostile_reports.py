"""Hostile bug reports (tests/data/reports/hostile/): every stage of `harness repro` that runs on
the machine of the person using the harness (reading the report, its inventory and commands,
writing the scenario, the Kubespray inventory and molecule.yml) treats their content as data.

Each report carries a payload that creates /tmp/kh-hostile-<report name> if it ever runs; none
may appear. Templates are rendered by Ansible only, in the run's controller container: that
stage is proven end to end in tests/integration/test_hostile_report_end_to_end.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml

from harness import inventory, molecule
from harness import scenario as scenarios
from harness.errors import HarnessError
from harness.repro import reproduce
from harness.settings import Settings

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "reports" / "hostile"
# Reports refused before anything is written, and what the one line says.
REFUSED = {
    "template-group-name": "is not an Ansible group name",
    "path-group-name": "'/tmp/kh-hostile-path-group-name' is not an Ansible group name",
    "file-like-group-name": "'k8s_cluster.yml' is not an Ansible group name",
    "pasted-vars-path": "'..' is not an Ansible group name",
}
REPORTS = sorted(path.stem for path in HOSTILE.glob("*.md"))


def canary(name: str) -> Path:
    return Path("/tmp") / f"kh-hostile-{name}"


@pytest.fixture
def settings(repro_settings: Settings) -> Settings:
    return repro_settings


def _all_harness_stages(settings: Settings, head: str, report: Path, tmp_path: Path) -> scenarios.Scenario:
    """Read the report into a scenario, then write what a run writes from it on this machine."""
    prepared = reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head), lambda _: None)
    scenario = scenarios.load(prepared.settings.scenarios_dir, prepared.name)
    addresses = {node.name: f"172.30.0.{index}" for index, node in enumerate(scenario.nodes, start=2)}
    access = inventory.SshAccess("/harness/run/ssh/id_ed25519", addresses)
    worktree = tmp_path / "kubespray"
    worktree.mkdir(exist_ok=True)
    for step in scenario.steps:
        inventory.write_inventory(tmp_path / "inventory", scenario, worktree, access, step)
    molecule.render_platforms(scenario)
    return scenario


@pytest.mark.parametrize("name", REPORTS)
def test_no_payload_of_a_hostile_report_runs_on_this_machine(
    name: str, settings: Settings, repro_head: str, tmp_path: Path
) -> None:
    canary(name).unlink(missing_ok=True)

    with contextlib.suppress(HarnessError):  # a refusal is fine here; which are refused is the next test's
        _all_harness_stages(settings, repro_head, HOSTILE / f"{name}.md", tmp_path)

    assert not canary(name).exists(), f"the payload of {name}.md ran on this machine"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_name_that_is_no_ansible_group_name_is_refused_in_one_line(
    name: str, settings: Settings, repro_head: str
) -> None:
    options = reproduce.ReproOptions(report=HOSTILE / f"{name}.md", ref=repro_head)

    with pytest.raises(HarnessError) as refused:
        reproduce.prepare(settings, options, lambda _: None)

    assert REFUSED[name] in refused.value.message
    assert "\n" not in refused.value.message


@pytest.mark.parametrize("name", sorted(set(REPORTS) - set(REFUSED)))
def test_a_payload_reaches_the_scenario_as_the_text_the_reporter_wrote(
    name: str, settings: Settings, repro_head: str, tmp_path: Path
) -> None:
    scenario = _all_harness_stages(settings, repro_head, HOSTILE / f"{name}.md", tmp_path)

    written = yaml.safe_dump(scenario.model_dump(mode="json"))
    assert f"kh-hostile-{name}" in written or name in ("connection-override", "newline-in-a-note")
    assert scenario.default_refs == [repro_head], "no key of the scenario came from the report"


def test_connection_settings_of_a_report_are_never_passed_on(
    settings: Settings, repro_head: str, tmp_path: Path
) -> None:
    scenario = _all_harness_stages(settings, repro_head, HOSTILE / "connection-override.md", tmp_path)

    written = yaml.safe_dump(scenario.model_dump(mode="json"))
    assert "ProxyCommand" not in written and "ansible_connection" not in written


def test_a_note_quoting_the_report_stays_one_comment_line(settings: Settings, repro_head: str, tmp_path: Path) -> None:
    scenario = _all_harness_stages(settings, repro_head, HOSTILE / "newline-in-a-note.md", tmp_path)

    text = (scenario.directory / "scenario.yml").read_text()
    assert "jump - hostile-ref" in text, "the note is kept, on one line"
    assert all(line.startswith("#") for line in text.splitlines() if "hostile-ref" in line)
