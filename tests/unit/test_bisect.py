"""harness.bisect without containers: the predicate's answers, the order check, reading git's verdict."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from harness import bisect
from harness.errors import HarnessError
from harness.scenario import Expectation, FailureExpectation, Scenario
from harness.settings import Settings

SCALE = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize(
    ("find", "verdict", "answer"),
    [
        ("regression", "not-reproduced", bisect.EXIT_OLD),
        ("regression", "reproduced", bisect.EXIT_NEW),
        ("fix", "reproduced", bisect.EXIT_OLD),
        ("fix", "not-reproduced", bisect.EXIT_NEW),
        ("regression", "failed-elsewhere", bisect.EXIT_SKIP),
        ("fix", "failed-elsewhere", bisect.EXIT_SKIP),
        ("regression", "not-exercised", bisect.EXIT_SKIP),
        ("fix", "not-exercised", bisect.EXIT_SKIP),
        ("fix", "error", bisect.EXIT_SKIP),
    ],
)
def test_a_commit_failing_elsewhere_or_not_running_is_skipped_never_blamed(find, verdict, answer):
    assert bisect._answer(find, verdict) == answer


BUG = {"task": "t", "step": "deploy", "hosts": ["km-1"], "message": "m"}


def test_the_bug_is_the_scenarios_failure_for_the_buggy_ref_or_its_only_one():
    scale = Scenario.model_validate(
        {
            "name": "s",
            "directory": SCALE,
            "nodes": [{"name": "km-1", "role": "control-plane"}],
            "steps": [{"name": "deploy", "playbook": "cluster.yml"}],
            "expectations": {"a1": {"fail": BUG}, "b2": "pass"},
        }
    )
    settings = Settings.from_env({"KUBESPRAY_REPO": "/nonexistent"})
    assert bisect.bug_of(settings, scale, "a1", "a1" * 20) == FailureExpectation(**BUG)
    with_two = scale.model_copy(
        update={
            "expectations": {**scale.expectations, "c3": Expectation(fail=FailureExpectation(**{**BUG, "task": "u"}))}
        }
    )
    with pytest.raises(HarnessError, match="none for zz9"):
        bisect.bug_of(settings, with_two, "zz9", "f" * 40)


def test_git_bisect_output_gives_the_first_commit_subject_and_pr(tmp_path: Path, monkeypatch):
    sha = "6d4714b66e8d293e9beef8eb4568f3582cf9dccf"
    monkeypatch.setattr(bisect.source, "git", lambda *args, **kw: "Make main_access_ip cacheable in facts (#12020)")
    result = bisect.BisectResult("scale-limit", "fix", "g", "b", None)
    bisect._conclude(tmp_path, result, f"running probe\n{sha} is the first fixed commit\ncommit {sha}\n", "fixed")
    assert (result.first_commit, result.pr) == (sha, "12020")


def test_only_skipped_commits_left_lists_the_candidates(tmp_path: Path):
    output = "There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n" + "a" * 40
    result = bisect.BisectResult("scale-limit", "regression", "g", "b", None)
    bisect._conclude(tmp_path, result, output + "\n" + "b" * 40 + "\n", "bad")
    assert result.first_commit is None and result.candidates == ["a" * 40, "b" * 40]
    assert bisect.exit_code(result) == 1


def _commits(repo: Path, count: int) -> list[str]:
    """A throw-away repository of `count` commits, older first."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shas = []
    for n in range(count):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", f"c{n} (#{n})"], check=True)
        shas.append(subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip())
    return shas


def _two_commits(repo: Path) -> tuple[str, str]:
    older, newer = _commits(repo, 2)
    return older, newer


def test_refs_in_the_wrong_order_are_refused_with_the_fix_spelled_out(tmp_path: Path):
    repo = tmp_path / "repo"
    older, newer = _two_commits(repo)
    git_dir = repo / ".git"
    regression = bisect.BisectOptions("s", good=newer, bad=older)
    with pytest.raises(HarnessError, match="add --find fix"):
        bisect._check_order(git_dir, regression, newer, older)
    fix = bisect.BisectOptions("s", good=older, bad=newer, find="fix")
    with pytest.raises(HarnessError, match="--bad is the older"):
        bisect._check_order(git_dir, fix, newer, older)
    bisect._check_order(git_dir, regression, older, newer)  # the right order passes


REPRODUCED, CLEAN = "reproduced", "not-reproduced"


@pytest.mark.parametrize(
    ("find", "verdicts", "problem"),
    [
        pytest.param("fix", {"old": REPRODUCED, "new": CLEAN}, "", id="fix-ends-hold"),
        pytest.param("fix", {"old": CLEAN, "new": CLEAN}, "the broken end old", id="bad-end-clean"),
        pytest.param("fix", {"old": REPRODUCED, "new": "failed-elsewhere"}, "the fixed end new", id="good-elsewhere"),
        pytest.param("regression", {"old": CLEAN, "new": REPRODUCED}, "", id="regression-ends-hold"),
        pytest.param("regression", {"old": REPRODUCED, "new": REPRODUCED}, "the good end old", id="good-end-has-bug"),
    ],
)
def test_both_ends_must_show_what_they_are_said_to(monkeypatch, tmp_path: Path, find, verdicts, problem):
    asked = []
    monkeypatch.setattr(bisect, "probe_commit", lambda settings, directory, sha: asked.append(sha) or verdicts[sha])

    found = bisect._check_ends(Settings.from_env({}), tmp_path, find, "old", "new")

    assert found.startswith(problem) if problem else found == ""
    assert asked == (["old"] if problem.endswith(" old") else ["old", "new"]), "a failing end stops the check"


def test_a_commit_the_bisection_already_ran_is_not_run_again(monkeypatch, tmp_path: Path):
    (tmp_path / bisect.CONFIG_FILE).write_text('{"scenario": "scale-limit", "find": "fix", "bug": {}}')
    probe = bisect.Probe("6d4714b66e8d293e9beef8eb4568f3582cf9dccf", "not-reproduced", 300.0, "/runs/x")
    (tmp_path / bisect.PROBES_FILE).write_text(json.dumps(dataclasses.asdict(probe)) + "\n")
    monkeypatch.setattr(bisect.runner, "run", lambda *args, **kwargs: pytest.fail("ran the commit again"))

    assert bisect.probe_commit(Settings.from_env({}), tmp_path, probe.sha) == "not-reproduced"
    assert len(bisect.read_probes(tmp_path)) == 1


def test_adjacent_ends_are_answered_by_git_without_a_probe(tmp_path: Path):
    repo = tmp_path / "repo"
    shas = _two_commits(repo)
    directory = tmp_path / "bisect"
    directory.mkdir()

    output = bisect._bisect_run(repo, "fix", shas[0], shas[1], directory, progress=lambda _: None)

    assert f"{shas[1]} is the first fixed commit" in output
    assert not (directory / bisect.PROBES_FILE).exists(), "no scenario ran"


def _bisection_with_budget(directory: Path, budget: int, probes: int) -> None:
    directory.mkdir(exist_ok=True)
    config = {"scenario": "scale-limit", "find": "regression", "bug": BUG, "budget": budget}
    (directory / bisect.CONFIG_FILE).write_text(json.dumps(config))
    records = [bisect.Probe(f"{n:040d}", "reproduced", 300.0, f"/runs/{n}") for n in range(probes)]
    (directory / bisect.PROBES_FILE).write_text("".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in records))


def test_a_spent_probe_budget_stops_the_bisection_without_another_run(monkeypatch, tmp_path: Path):
    _bisection_with_budget(tmp_path, budget=2, probes=2)
    monkeypatch.setattr(bisect.runner, "run", lambda *args, **kwargs: pytest.fail("ran beyond the budget"))

    assert bisect.probe(Settings.from_env({}), tmp_path) == bisect.EXIT_STOP
    assert bisect._budget_left(tmp_path) == 0


def test_a_budget_counts_the_runs_already_made(tmp_path: Path):
    _bisection_with_budget(tmp_path, budget=5, probes=2)

    assert bisect._budget_left(tmp_path) == 3


def test_a_stopped_bisection_names_the_commits_it_could_not_tell_apart(tmp_path: Path):
    repo = tmp_path / "repo"
    shas = _commits(repo, 6)
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "bisect", "start", "--no-checkout", shas[5], shas[0]], check=True, capture_output=True)
    subprocess.run([*git, "bisect", "good", shas[2]], check=True, capture_output=True)

    left = bisect._left_to_bisect(repo, "regression")

    assert left == [shas[5], shas[4], shas[3]], "the first bad commit is after the last good one, up to the bad end"
