"""The matrix file, cell selection, and the Markdown/JUnit writers on real reports.

tests/data/matrix/scale-limit.reports.json is what `harness run scale-limit --ref 8f4b7f9f5
--ref 6d4714b66 --ref a51e7dd07 --report-json` wrote on a real run, with the machine's runs
directory replaced by RUNS_DIR.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import cli, matrix, report
from harness.errors import HarnessError
from harness.runner import RunResult
from harness.scenario import Expectation, FailureExpectation
from harness.verdict import Verdict

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
REPORTS = json.loads((REPO / "tests" / "data" / "matrix" / "scale-limit.reports.json").read_text())
EXPECTED = {"8f4b7f9f5": "expected-failure", "6d4714b66": "passed", "a51e7dd07": "expected-failure"}


@pytest.fixture
def cells() -> list[matrix.CellResult]:
    return [
        matrix.CellResult(
            matrix.CellSpec(scenario="scale-limit", ref=r["ref"]),
            EXPECTED[r["ref"]],
            r["sha"],
            report=r,
            log="cell.log",
        )
        for r in REPORTS
    ]


def _matrix_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.yml"
    path.write_text(text)
    return path


def test_the_project_matrix_loads_with_every_scenario_of_a_known_bug() -> None:
    cells = matrix.load(SCENARIOS / "matrix.yml", SCENARIOS)
    scenarios = {"upgrade-node-based", "scale-limit", "upgrade-node-based-nginx", "upgrade-node-based-facts"}
    assert {cell.scenario for cell in cells} == scenarios


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cells:\n  - {scenario: nope, ref: v1}\n", "cell nope@v1: unknown scenario"),
        ("cells:\n  - {scenario: scale-limit, ref: v1}\n  - {scenario: scale-limit, ref: v1}\n", "listed twice"),
        ("cells:\n  - {scenario: scale-limit, ref: v1, expect: maybe}\n", "cells.0.expect"),
        ("cells:\n  - {scenario: scale-limit}\n", "cells.0.ref"),
        ("cells: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_matrix_file_is_refused_naming_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(HarnessError, match=problem):
        matrix.load(_matrix_file(tmp_path, text), SCENARIOS)


def test_only_selects_cells_by_scenario_at_ref_pattern() -> None:
    cells = matrix.load(SCENARIOS / "matrix.yml", SCENARIOS)
    assert [c.label for c in matrix.select(cells, ["scale-limit@*"])] == [
        "scale-limit@8f4b7f9f5",
        "scale-limit@6d4714b66",
    ]
    with pytest.raises(HarnessError, match="matches no cell"):
        matrix.select(cells, ["nothing@*"])


def test_a_cell_matches_only_when_its_verdict_is_the_expected_one(cells) -> None:
    assert [cell.matches for cell in cells] == [True, True, False]  # a51e7dd07 failed elsewhere


def test_markdown_has_a_row_per_cell_with_sha_verdict_and_escaped_task(cells) -> None:
    text = report.matrix_markdown(cells)
    rows = text.strip().splitlines()[2:]
    assert len(rows) == 3
    assert "`8f4b7f9f5d91`" in rows[0] and "expected-failure" in rows[0]
    assert "Hosts \\| create hosts list from inventory" in rows[0]
    assert "**NO**" in rows[2] and "unexpected-failure" in rows[2]


def test_junit_has_a_testcase_per_cell_and_a_failure_naming_task_message_and_log(cells) -> None:
    suite = ET.fromstring(report.matrix_junit(cells))
    cases = suite.findall("testcase")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    failed = [case for case in cases if case.find("failure") is not None]
    assert [case.get("name")[:9] for case in failed] == ["a51e7dd07"]
    text = failed[0].find("failure").text
    assert "Stop if any host not in '--limit' does not have a fact cache" in text
    assert "TemplateSyntaxError" in text and "02-scale-kw-3.log" in text


def test_junit_stays_well_formed_when_a_message_holds_terminal_colours(cells) -> None:
    # Derived: a Molecule failure whose log tail carries colour codes (seen: a run's prepare failing).
    failed = next(cell for cell in cells if not cell.matches)
    failed.report = {**failed.report, "failed_message": "\x1b[31mExecuted: Failed\x1b[0m\x07 rc 2"}

    suite = ET.fromstring(report.matrix_junit(cells))

    text = next(case for case in suite.iter("testcase") if case.find("failure") is not None).find("failure").text
    assert "message: Executed: Failed rc 2" in text


def test_html_report_shows_verdicts_failing_task_with_its_output_and_node_files(cells) -> None:
    # The buggy cell's run directory as recorded (tests/data/matrix/run-8f4b7f9f5: its failing
    # step's log and kw-3's /etc/hosts), in place of the machine's runs directory.
    recorded = REPO / "tests" / "data" / "matrix" / "run-8f4b7f9f5"
    buggy = cells[0]
    buggy.report = {**buggy.report, "run_dir": str(recorded), "failed_log": str(recorded / "logs/02-scale-kw-3.log")}

    html = report.matrix_html(cells)

    assert html.count('class="badge ok"') >= 2 and 'class="badge no"' in html
    assert 'id="scale-limit-8f4b7f9f5"' in html and 'href="#scale-limit-a51e7dd07"' in html
    assert "TASK [kubernetes/preinstall : Hosts | create hosts list from inventory]" in html
    assert '<span class="hit">fatal: [kw-3 -&gt; localhost]: FAILED!' in html
    kw3_hosts = (recorded / "artifacts" / "kw-3" / "hosts").read_text()
    assert kw3_hosts.splitlines()[-1] in html  # kw-3's /etc/hosts, as the node held it (no block yet)
    assert "<script" not in html  # self-contained and static


def test_matrix_reports_round_trip_through_json(cells, tmp_path: Path) -> None:
    path = tmp_path / "cells.json"
    path.write_text(json.dumps([cell.as_dict() for cell in cells]))
    again = matrix.read_reports([path])
    assert [(c.spec.label, c.sha, c.verdict, c.expected, c.matches) for c in again] == [
        (c.spec.label, c.sha, c.verdict, c.expected, c.matches) for c in cells
    ]


def test_a_report_from_before_the_schema_is_refused_saying_why() -> None:
    """Recorded before `schema` 1: its `expected` is a sentence, not a verdict."""
    with pytest.raises(HarnessError, match=r"is not a run or matrix report .* says its expectation in words"):
        matrix.read_reports([REPO / "tests" / "data" / "matrix" / "scale-limit.reports.json"])


def test_a_runs_report_json_reads_as_a_cell(tmp_path: Path) -> None:
    expectation = Expectation(
        fail=FailureExpectation(task="t", step="scale-kw-3", hosts=("kw-3",), message="main_access_ip")
    )
    run = RunResult("scale-limit", "8f4b7f9f5", "8f4b7f9f5d91", "1a2b3c4d", tmp_path, expectation)
    run.verdict = Verdict.EXPECTED_FAILURE
    (tmp_path / "report.json").write_text(json.dumps(run.as_dict()))

    (cell,) = matrix.read_reports([tmp_path / "report.json"])

    assert (cell.spec.label, cell.sha, cell.verdict, cell.expected, cell.matches) == (
        "scale-limit@8f4b7f9f5",
        "8f4b7f9f5d91",
        "expected-failure",
        "expected-failure",
        True,
    )
    assert cell.report["schema"] == 1 and "main_access_ip" in cell.report["expectation"]


def test_matrix_list_prints_cells_for_a_ci_job_matrix(capsys, tmp_path: Path) -> None:
    from harness import cli

    seeds = "cells:\n  - {scenario: scale-limit, ref: 8f4b7f9f5}\n  - {scenario: scale-limit, ref: 6d4714b66}\n"
    seeds += "  - {scenario: upgrade-node-based, ref: v2.27.0}\n"
    path = _matrix_file(tmp_path, seeds)
    assert cli.main(["matrix", "--matrix", str(path), "--list", "--only", "scale-limit@*"]) == 0
    cells = json.loads(capsys.readouterr().out)
    assert [cell["label"] for cell in cells] == ["scale-limit@8f4b7f9f5", "scale-limit@6d4714b66"]


def test_live_progress_shows_each_cell_state_and_verdict_once_done(cells) -> None:
    from rich.console import Console

    cells[0].state, cells[1].state = "done", "running"
    cells[0].started = cells[1].started = 1.0
    cells[0].finished = 61.0
    console = Console(record=True, width=200)
    console.print(report.matrix_progress(cells))
    text = console.export_text()
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip().startswith("scale-limit@")}
    assert "done" in rows["scale-limit@8f4b7f9f5"] and "60s" in rows["scale-limit@8f4b7f9f5"]
    assert "expected-failure" in rows["scale-limit@8f4b7f9f5"]
    assert "running" in rows["scale-limit@6d4714b66"]
    assert "queued" in rows["scale-limit@a51e7dd07"]


MOVING = """cells:
  - {scenario: scale-limit, ref: 6d4714b66}
moving:
  - scenarios: [upgrade-node-based, scale-limit]
    refs: [master, supported-release-branches, latest-release-tags]
"""
CLONE_REFS = {"supported-release-branches": ["release-2.30", "release-2.31"], "latest-release-tags": ["v2.31.0"]}


def test_moving_cells_are_each_scenario_at_master_and_the_refs_read_from_the_clone(tmp_path: Path) -> None:
    cells = matrix.load(_matrix_file(tmp_path, MOVING), SCENARIOS, CLONE_REFS.__getitem__)

    assert [(cell.label, cell.expect) for cell in cells[1:]] == [
        (f"{scenario}@{ref}", "passed")
        for scenario in ("upgrade-node-based", "scale-limit")
        for ref in ("master", "release-2.30", "release-2.31", "v2.31.0")
    ]


def test_a_moving_cell_that_repeats_a_fixed_one_is_refused(tmp_path: Path) -> None:
    refs = {**CLONE_REFS, "latest-release-tags": ["6d4714b66"]}

    with pytest.raises(HarnessError, match="scale-limit@6d4714b66 is listed twice"):
        matrix.load(_matrix_file(tmp_path, MOVING), SCENARIOS, refs.__getitem__)


def test_the_project_matrix_has_moving_cells_for_both_scenarios(tmp_path: Path) -> None:
    cells = matrix.load(SCENARIOS / "matrix.yml", SCENARIOS, CLONE_REFS.__getitem__)

    assert {"upgrade-node-based@master", "scale-limit@master", "scale-limit@v2.31.0"} <= {c.label for c in cells}


def test_a_saved_cell_joins_the_fixed_cells_and_leaves_the_moving_ones_alone(tmp_path: Path) -> None:
    path = _matrix_file(tmp_path, (SCENARIOS / "matrix.yml").read_text())
    fixed = len(matrix.load(path, SCENARIOS))

    matrix.add_cell(path, SCENARIOS, "scale-limit", "e33237529")

    cells = matrix.load(path, SCENARIOS, CLONE_REFS.__getitem__)
    assert cells[fixed].label == "scale-limit@e33237529", "after the fixed cells"
    assert {"upgrade-node-based@master", "scale-limit@v2.31.0"} <= {cell.label for cell in cells}
    assert "# What operators run today" in path.read_text(), "comments are kept"


def test_a_saved_cell_starts_the_cells_list_of_a_file_without_one(tmp_path: Path) -> None:
    path = _matrix_file(tmp_path, "moving:\n  - scenarios: [scale-limit]\n    refs: [master]\n")

    matrix.add_cell(path, SCENARIOS, "scale-limit", "e33237529")

    assert [cell.label for cell in matrix.load(path, SCENARIOS)] == ["scale-limit@e33237529"]


def test_matrix_report_writes_every_registered_format(cells, tmp_path: Path) -> None:
    reports = tmp_path / "cells.json"
    reports.write_text(json.dumps([cell.as_dict() for cell in cells]))
    outputs = {output.option: tmp_path / f"out{output.option}" for output in report.FORMATS}

    status = cli.main(["matrix-report", str(reports), *[str(part) for item in outputs.items() for part in item]])

    assert status == 1, "one recorded cell does not match its expectation"
    assert all(path.is_file() and path.read_text().strip() for path in outputs.values())
    assert json.loads(outputs["--report-json"].read_text())[0]["sha"] == cells[0].sha
    ET.fromstring(outputs["--junit"].read_text())


def _run_report(run_dir: Path, sha: str, verdict: Verdict) -> None:
    expectation = Expectation(fail=FailureExpectation(task="t", step="scale-kw-3", hosts=("kw-3",), message="m"))
    run = RunResult("scale-limit", sha, sha, "1a2b3c4d", run_dir, expectation)
    run.verdict = verdict
    run_dir.mkdir(parents=True)
    (run_dir / "report.json").write_text(json.dumps(run.as_dict()))


def test_a_repro_reads_as_the_cell_of_its_run(tmp_path: Path) -> None:
    _run_report(tmp_path / "run", "8f4b7f9f5d91", Verdict.EXPECTED_FAILURE)
    repro = {"schema": 1, "verdict": "reproduced", "report": "report.md", "run_dir": str(tmp_path / "run")}
    (tmp_path / "repro.json").write_text(json.dumps(repro))

    (cell,) = matrix.read_reports([tmp_path / "repro.json"])

    assert (cell.sha, cell.verdict, cell.matches) == ("8f4b7f9f5d91", "expected-failure", True)


def test_a_repro_that_carries_its_run_reads_without_its_directory(tmp_path: Path) -> None:
    _run_report(tmp_path / "run", "8f4b7f9f5d91", Verdict.EXPECTED_FAILURE)
    run = json.loads((tmp_path / "run" / "report.json").read_text())
    repro = {"schema": 1, "verdict": "reproduced", "report": "report.md", "run_dir": "/gone", "run": run}
    (tmp_path / "repro.json").write_text(json.dumps(repro))

    (cell,) = matrix.read_reports([tmp_path / "repro.json"])

    assert (cell.sha, cell.verdict) == ("8f4b7f9f5d91", "expected-failure")


def test_a_bisection_reads_as_the_cells_of_its_probes(tmp_path: Path) -> None:
    _run_report(tmp_path / "a", "e0a141ab12b2", Verdict.EXPECTED_FAILURE)
    _run_report(tmp_path / "b", "a51e7dd07d66", Verdict.UNEXPECTED_FAILURE)
    probes = [
        {"sha": "e0a141ab12b2", "run_dir": str(tmp_path / "a")},
        {"sha": "a51e7dd07d66", "run_dir": str(tmp_path / "b")},
    ]
    (tmp_path / "bisect.json").write_text(json.dumps({"schema": 1, "probes": [*probes, {"sha": "x", "run_dir": ""}]}))

    cells = matrix.read_reports([tmp_path / "bisect.json"])

    assert [(cell.sha, cell.verdict, cell.matches) for cell in cells] == [
        ("e0a141ab12b2", "expected-failure", True),
        ("a51e7dd07d66", "unexpected-failure", False),
    ]


def test_a_cell_may_be_an_upgrade_across_releases_named_by_both(tmp_path: Path) -> None:
    path = _matrix_file(
        tmp_path,
        "cells:\n"
        "  - {scenario: upgrade-node-based, from: v2.26.0, ref: v2.27.1}\n"
        "  - {scenario: upgrade-node-based, ref: v2.27.1}\n",
    )

    pair, single = matrix.load(path, SCENARIOS)

    assert (pair.upgrade_from, pair.ref, pair.label) == ("v2.26.0", "v2.27.1", "upgrade-node-based@v2.26.0->v2.27.1")
    assert (single.upgrade_from, single.label) == (None, "upgrade-node-based@v2.27.1")
    assert matrix.select([pair, single], ["*@v2.26.0->*"]) == [pair]
