"""A step's depth from what the harness recorded of a real run (v2.27.1, upgrade-kw-1): its
task results, and the share of upgrade-cluster.yml's listed tasks its tags select."""

from __future__ import annotations

from pathlib import Path

from harness import coverage, events
from harness.kubespray import listing
from harness.repro.tags import BASE_TAGS

DATA = Path(__file__).resolve().parents[1] / "data" / "v2.27.1"


def _step() -> coverage.StepCoverage:
    recorded = events.read_events(DATA / "upgrade-kw-1.events.jsonl")
    tasks = listing.parse("upgrade-cluster.yml", (DATA / "listings" / "upgrade-cluster.yml.txt").read_text())
    return coverage.of_step("upgrade-kw-1", "upgrade-cluster.yml", recorded, tasks, BASE_TAGS, [])


def test_a_steps_results_are_counted_per_task_and_host() -> None:
    step = _step()

    assert step.results["failed"] == 0 and step.results["unreachable"] == 0
    assert step.results["ok"] + step.results["changed"] > 0
    assert step.tasks_ran > 0


def test_the_share_is_of_the_tasks_the_playbook_lists_at_the_ref() -> None:
    step = _step()

    assert (step.selected, step.listed) == (398, 1837)  # the baseline of issue 13, asked of Ansible
    assert step.share == 0.217
    assert "tags select 398 of 1837 listed tasks (22%)" in step.describe()


def test_a_step_whose_playbook_could_not_be_listed_says_no_share() -> None:
    step = coverage.of_step("s", "x.yml", [], None, BASE_TAGS, [])

    assert step.share is None and "listed" not in step.describe()
