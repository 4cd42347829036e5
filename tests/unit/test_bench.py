"""`harness bench` on what it recorded from a real run.

tests/data/bench/ holds what `harness bench upgrade-node-based --ref v2.27.1 --runs 1` wrote on
2026-11-27: its JSON (bench.json), the run's report.json and the events of its upgrade-kw-2 step,
with the machine's runs directory replaced by RUNS_DIR.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import bench, cli, report, steps
from harness.errors import HarnessError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "bench"
DOCUMENT = json.loads((DATA / "bench.json").read_text())
REPORT = json.loads((DATA / "report.json").read_text())
STEP_EVENTS = [json.loads(line) for line in (DATA / "upgrade-kw-2.events.jsonl").read_text().splitlines()]


def recorded_sample() -> bench.Sample:
    """The run as the bench saw it: its process started `start → setup` before the run's setup."""
    case = DOCUMENT["cases"][0]
    before_setup = next(p["median_s"] for p in case["phases"] if p["name"] == "start → setup")
    cpu = bench.CpuUse(**case["cpu"][0])
    return bench.Sample(bench.Timed(case["wall_s"][0], 0, REPORT["started"] - before_setup, cpu), REPORT)


def test_intervals_cover_the_process_from_start_to_exit():
    intervals = recorded_sample().intervals()
    assert sum(i.seconds for i in intervals) == pytest.approx(recorded_sample().wall, abs=0.5)
    assert intervals[0].name == "start → setup" and intervals[-1].name == "destroy → exit"


def test_intervals_alternate_gaps_and_phases_in_run_order():
    intervals = recorded_sample().intervals()
    phases = [i.name for i in intervals if i.kind != "gap"]
    steps = ["deploy", "upgrade-control-plane", "upgrade-kw-1", "upgrade-kw-2"]
    assert phases == ["setup", "create", *steps, "verify", "destroy"]
    assert [i.kind for i in intervals[::2]] == ["gap"] * (len(phases) + 1)


def test_kubespray_steps_are_the_ansible_playbook_runs_only():
    sample = recorded_sample()
    kubespray = [i for i in sample.intervals() if i.kind == "kubespray"]
    assert [i.name for i in kubespray] == ["deploy", "upgrade-control-plane", "upgrade-kw-1", "upgrade-kw-2"]
    assert sample.steps_seconds == pytest.approx(sum(i.seconds for i in kubespray))


def test_case_figures_are_those_the_recorded_bench_printed():
    result = bench.CaseResult(bench.Case("upgrade-node-based", "v2.27.1"), [recorded_sample()])
    figures = {key: value for key, value in result.as_dict().items() if key != "slowest_tasks"}
    recorded = DOCUMENT["cases"][0]
    for key in ("wall_median_s", "steps_median_s", "overhead_ratio", "harness_median_s", "phases", "verdicts"):
        assert figures[key] == recorded[key], key


def test_overhead_ratio_is_wall_over_steps():
    case = bench.CaseResult(bench.Case("upgrade-node-based", "v2.27.1"), [recorded_sample()]).as_dict()
    assert case["overhead_ratio"] == round(case["wall_median_s"] / case["steps_median_s"], 3)


def test_task_seconds_run_from_a_task_start_to_the_next():
    seconds = bench.task_seconds(STEP_EVENTS)
    starts = [e["time"] for e in STEP_EVENTS if e["event"] in ("task_start", "play_start", "stats")]
    assert sum(seconds.values()) <= starts[-1] - starts[0] + 0.01
    assert all(value >= 0 for value in seconds.values())
    service_facts = [v for (_, task), v in seconds.items() if task.endswith("Populate service facts")]
    assert service_facts and max(service_facts) > 1.0, service_facts


def test_slowest_tasks_are_sorted_and_cut_at_twenty(tmp_path):
    log = tmp_path / "04-upgrade-kw-2.log"
    (tmp_path / "04-upgrade-kw-2.events.jsonl").write_text((DATA / "upgrade-kw-2.events.jsonl").read_text())
    sample = recorded_sample()
    sample.report = {**REPORT, "steps": [{"name": "upgrade-kw-2", "seconds": 31.7, "log": str(log), "started": 1}]}
    table = bench.slowest_tasks([sample])
    medians = [row["median_s"] for row in table["upgrade-kw-2"]]
    assert len(medians) == bench.SLOWEST_TASKS and medians == sorted(medians, reverse=True)


def test_events_file_sits_beside_the_step_log():
    assert steps.events_file_of(Path("/r/logs/03-upgrade-kw-1.log")) == Path("/r/logs/03-upgrade-kw-1.events.jsonl")


def test_markdown_escapes_the_pipes_of_kubespray_task_names():
    markdown = report.bench_markdown(DOCUMENT)
    assert "Hosts \\| Update (if necessary) hosts file" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "Hosts" in line]
    assert rows and all(line.replace("\\|", "").count("|") == 4 for line in rows), rows


def test_markdown_leads_with_the_machine_and_the_case_row():
    markdown = report.bench_markdown(DOCUMENT)
    assert markdown.startswith("Measured 2026-11-27T03:56:24Z on 2 cores, 23.5 GiB, docker 20.10")
    assert "| upgrade-node-based@v2.27.1 | 1 | 472.8 | 302.1 | 170.7 | 1.565 | - |" in markdown


def test_the_projects_bench_plan_names_known_scenarios_and_matrix_cells():
    plan = bench.load_plan(REPO / "scenarios" / bench.PLAN_FILE)
    assert {case.scenario for case in plan.cases} == {"upgrade-node-based", "scale-limit"}
    matrix_file = (REPO / "scenarios" / "matrix.yml").read_text()
    for cell in plan.matrix_cells:
        scenario, ref = cell.split("@")
        assert f"{{scenario: {scenario}, ref: {ref}}}" in matrix_file, cell


def test_a_bad_plan_is_one_line_naming_the_field(tmp_path):
    plan = tmp_path / "bench.yml"
    plan.write_text("cases: [{scenario: x}]\n")
    with pytest.raises(HarnessError) as caught:
        bench.load_plan(plan)
    assert "cases.0.ref" in caught.value.message and "\n" not in caught.value.message


def test_ref_without_a_scenario_is_refused(capsys):
    assert cli.main(["bench", "--ref", "v2.27.1"]) == 2
    assert "--ref goes with a SCENARIO" in capsys.readouterr().err


def test_a_scenario_without_a_ref_is_refused(capsys):
    assert cli.main(["bench", "upgrade-node-based"]) == 2
    assert "give --ref REF" in capsys.readouterr().err


def test_no_runs_is_refused(capsys, tmp_path):
    with pytest.raises(HarnessError, match="at least one run"):
        bench.bench(None, (), 0, tmp_path)  # type: ignore[arg-type]
