"""nightly.compare: tonight's matrix against last night's, on cells of recorded real runs.

tests/data/matrix/scale-limit.reports.json holds real runs of the scale scenario at
6d4714b66 (passed) and 8f4b7f9f5 (failed at Report 2's task); here they stand for one
moving cell, `scale-limit@watched`, on two nights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import matrix, nightly, report
from harness.nightly import Change

REPORTS = {
    report["ref"]: report
    for report in json.loads(
        (Path(__file__).resolve().parents[1] / "data" / "matrix" / "scale-limit.reports.json").read_text()
    )
}
PASSING, FAILING = REPORTS["6d4714b66"], REPORTS["8f4b7f9f5"]


def _cell(report: dict, ref: str = "watched", expected: str = "passed", scenario: str = "scale-limit"):
    return matrix.CellResult(matrix.CellSpec(scenario=scenario, ref=ref), expected, report["sha"], report=report)


def _only(changes: list[nightly.CellChange]) -> nightly.CellChange:
    assert len(changes) == 1, changes
    return changes[0]


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        pytest.param(PASSING, FAILING, Change.REGRESSION, id="passed-then-failed-at-a-newer-sha"),
        pytest.param(FAILING, FAILING, Change.STILL_FAILING, id="failed-both-nights"),
        pytest.param(FAILING, PASSING, Change.FIXED, id="failed-then-passed"),
        pytest.param(PASSING, PASSING, Change.UNCHANGED, id="passed-both-nights"),
    ],
)
def test_a_cell_of_both_nights(before: dict, after: dict, change: Change) -> None:
    found = _only(nightly.compare([_cell(before)], [_cell(after)]))

    assert (found.label, found.change) == ("scale-limit@watched", change)
    assert found.before.sha == before["sha"] and found.after.sha == after["sha"]


def test_a_cell_that_fails_at_the_same_sha_it_passed_at_is_not_a_regression_of_kubesprays() -> None:
    failing_at_the_same_sha = {**FAILING, "sha": PASSING["sha"]}

    found = _only(nightly.compare([_cell(PASSING)], [_cell(failing_at_the_same_sha)]))

    assert found.change == Change.BROKE_AT_SAME_COMMIT
    assert found.needs_rerun


def test_an_expected_failure_reproduced_both_nights_is_good_both_nights() -> None:
    seed = _cell(FAILING, ref="8f4b7f9f5", expected="expected-failure")

    assert _only(nightly.compare([seed], [seed])).change == Change.UNCHANGED


def test_only_a_good_cell_gone_bad_is_rerun() -> None:
    changes = nightly.compare(
        [_cell(PASSING), _cell(FAILING, ref="other")], [_cell(FAILING), _cell(FAILING, ref="other")]
    )

    assert [(change.label, change.needs_rerun) for change in changes] == [
        ("scale-limit@watched", True),
        ("scale-limit@other", False),
    ]


def test_new_and_removed_cells_are_listed_as_such() -> None:
    changes = nightly.compare([_cell(PASSING, ref="release-2.28")], [_cell(PASSING, ref="release-2.31")])

    assert {(change.label, change.change) for change in changes} == {
        ("scale-limit@release-2.31", Change.NEW_CELL),
        ("scale-limit@release-2.28", Change.REMOVED_CELL),
    }


def test_regressions_come_first_and_unchanged_cells_last() -> None:
    baseline = [_cell(PASSING, ref="a"), _cell(PASSING, ref="b"), _cell(FAILING, ref="c")]
    tonight = [_cell(PASSING, ref="a"), _cell(FAILING, ref="b"), _cell(PASSING, ref="c"), _cell(PASSING, ref="d")]

    assert [change.change for change in nightly.compare(baseline, tonight)] == [
        Change.REGRESSION,
        Change.NEW_CELL,
        Change.FIXED,
        Change.UNCHANGED,
    ]


# --- failure_of: tonight's failure as the bug a bisection looks for ---------------------------


def test_tonights_failure_becomes_the_bug_with_the_start_of_its_first_line() -> None:
    failing = {**FAILING, "failed_hosts": ["kw-3"]}

    bug = nightly.failure_of(failing)

    assert bug == nightly.FailureExpectation(
        task="kubernetes/preinstall : Hosts | create hosts list from inventory",
        step="scale-kw-3",
        hosts=("kw-3",),
        message=FAILING["failed_message"].splitlines()[0][:200],
    )
    assert "RUNS_DIR" not in bug.message, "the run's own paths are in later lines, never in the bug"


def test_a_run_specific_address_is_cut_out_of_the_message() -> None:
    failing = {**FAILING, "failed_hosts": ["kw-3"], "failed_message": "Timeout connecting to 172.19.0.4:6443: refused"}

    assert nightly.failure_of(failing).message == "Timeout connecting to", "the longest part without the address"


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        pytest.param({**FAILING, "failed_hosts": []}, "not a Kubespray task on named hosts", id="no-hosts"),
        pytest.param(
            {
                **FAILING,
                "failed_task": "testinfra: test_x[ansible://km-1]",
                "failed_step": "verify",
                "failed_hosts": [],
            },
            "host checks",
            id="host-checks",
        ),
        pytest.param({**FAILING, "verdict": "unreachable", "failed_hosts": ["kw-3"]}, "did not see", id="unreachable"),
        pytest.param({**FAILING, "failed_hosts": ["kw-3"], "failed_message": "172.19.0.4"}, "says nothing", id="blank"),
    ],
)
def test_a_failure_that_cannot_be_bisected_says_why(report: dict, reason: str) -> None:
    found = nightly.failure_of(report)

    assert isinstance(found, str) and reason in found


# --- watch: rerun, then bisect, without containers ---------------------------------------------
# matrix.run hands back recorded reports; bisect.bisect records what it was asked and bisects nothing.


@pytest.fixture
def night(monkeypatch, tmp_path: Path):
    """Tonight's runs come from `reports` in order (first run, then reruns); bisections are recorded."""
    reports: list[dict] = []
    asked: list = []

    def run(planned, jobs, out_dir, progress):
        for cell in planned:
            cell.report = reports.pop(0)
        return planned

    def bisect(settings, options, progress):
        asked.append(options)
        return nightly.bisect.BisectResult(options.scenario, options.find, options.good, options.bad, None)

    monkeypatch.setattr(nightly.matrix, "run", run)
    monkeypatch.setattr(nightly.bisect, "bisect", bisect)

    def watch(baseline: list, tonight: list[dict], budget: int = 6):
        reports.extend(tonight)
        planned = [matrix.CellResult(cell.spec, "passed", tonight[0]["sha"]) for cell in baseline]
        findings = nightly.watch(None, baseline, planned, 1, tmp_path, budget, progress=lambda _: None)
        return findings, asked

    return watch


def test_a_regression_that_fails_again_is_bisected_between_the_two_nights_shas(night) -> None:
    failing = {**FAILING, "failed_hosts": ["kw-3"]}

    findings, asked = night([_cell(PASSING)], [failing, failing], budget=6)

    assert [finding.status for finding in findings] == ["regression"]
    (options,) = asked
    assert (options.good, options.bad, options.find, options.budget) == (
        PASSING["sha"],
        FAILING["sha"],
        "regression",
        6,
    )
    assert options.trust_ends, "both ends were just run: last night's passed, tonight's failed twice"
    assert options.bug.task == FAILING["failed_task"] and options.bug.hosts == ("kw-3",)
    assert findings[0].final.night["baseline"] == {"sha": PASSING["sha"], "verdict": "passed"}


def test_a_cell_that_passes_on_its_rerun_is_flaky_and_not_bisected(night) -> None:
    passing_at_tonights_sha = {**PASSING, "sha": FAILING["sha"]}

    findings, asked = night([_cell(PASSING)], [FAILING, passing_at_tonights_sha])

    assert [finding.status for finding in findings] == ["flaky"]
    assert asked == []
    assert findings[0].final.matches, "tomorrow's baseline holds the rerun's pass"
    assert findings[0].final.night["first_run"]["verdict"] == "expected-failure"


def test_a_cell_still_failing_is_neither_rerun_nor_bisected(night) -> None:
    findings, asked = night([_cell(FAILING)], [FAILING])

    assert [finding.status for finding in findings] == ["still-failing"]
    assert findings[0].rerun is None and asked == []


# --- the night's outputs -----------------------------------------------------------------------


def _regression(bisection: dict) -> matrix.CellResult:
    cell = _cell({**FAILING, "failed_hosts": ["kw-3"]})
    cell.night = {"status": "regression", "baseline": {"sha": PASSING["sha"], "verdict": "passed"}, "bisect": bisection}
    return cell


BISECTION = {"first_commit": None, "subject": "", "candidates": [], "unresolved": "", "ends_problem": ""}
BISECTION.update(runs=5, seconds=2100.0, directory="RUNS_DIR/bisect-scale-limit")


def test_the_culprit_line_names_the_first_bad_commit_and_its_subject() -> None:
    found = {**BISECTION, "first_commit": "a51e7dd07" + "0" * 31, "subject": "refact ip stack (#11953)"}

    line = report.culprit_line(_regression(found).night)

    assert line == f"regression since {PASSING['sha'][:12]}: first bad commit a51e7dd07000 refact ip stack (#11953)"


def test_the_culprit_line_names_the_commits_a_bisection_could_not_tell_apart() -> None:
    found = {**BISECTION, "candidates": ["a" * 40, "b" * 40], "unresolved": "only commits that failed elsewhere"}

    line = report.culprit_line(_regression(found).night)

    assert line.endswith(
        "only commits that failed elsewhere; the first bad commit is one of these 2: aaaaaaaaaaaa, bbbbbbbbbbbb"
    )


def test_the_summary_lists_regressions_first_and_the_junit_failure_names_the_culprit() -> None:
    regression = _regression({**BISECTION, "first_commit": "f" * 40, "subject": "refact ip stack (#11953)"})
    flaky = _cell(PASSING, ref="release-2.31")
    flaky.night = {"status": "flaky"}

    summary = report.nightly_markdown([flaky, regression], removed=["scale-limit@release-2.28"])
    junit = report.matrix_junit([flaky, regression])

    assert summary.index("## Regressions") < summary.index("## Flaky") < summary.index("## Every cell")
    assert "first bad commit ffffffffffff refact ip stack (#11953)" in summary
    assert "scale-limit@release-2.28" in summary
    assert 'message="expected-failure, expected passed; regression since' in junit
    assert junit.count("<failure") == 1, "the flaky cell passed on its rerun"


def test_a_cell_failing_elsewhere_than_last_night_says_where_the_failure_moved(night) -> None:
    haproxy = {**FAILING, "failed_task": "kubernetes/node : Haproxy | Write haproxy configuration"}

    findings, _ = night([_cell(haproxy)], [FAILING])
    summary = report.nightly_markdown([finding.final for finding in findings])

    assert findings[0].final.night["failure_moved"] == {"from": haproxy["failed_task"], "to": FAILING["failed_task"]}
    assert "## Still failing, but elsewhere than last night" in summary
