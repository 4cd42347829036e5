"""`harness bench` once, as `make test`'s smoke: one warm run of the scale scenario at its fixed
commit through the real CLI, and the JSON and Markdown it writes. No figure is held against a
threshold here: speed is read from `make bench` (README, Performance)."""

from __future__ import annotations

import json
import subprocess

import pytest
from cli_helpers import HARNESS

from harness import bench

pytestmark = pytest.mark.integration

CASE = ("scale-limit", "6d4714b66")


@pytest.fixture(scope="module")
def benched(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, str]:
    out = tmp_path_factory.mktemp("bench")
    scenario, ref = CASE
    argv = [*HARNESS, "bench", scenario, "--ref", ref, "--runs", "1"]
    argv += ["--json", str(out / "bench.json"), "--markdown", str(out / "bench.md")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-4000:], proc.stderr[-3000:])
    assert (out / "bench.json").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads((out / "bench.json").read_text()), (out / "bench.md").read_text()


def test_bench_exits_0_with_the_expected_verdict(benched):
    proc, document, _ = benched
    assert proc.returncode == 0, proc.stdout[-3000:]
    case = document["cases"][0]
    assert case["verdicts"] == ["passed"] and case["matches"], case["verdicts"]


def test_bench_json_names_its_schema_machine_and_case(benched):
    _, document, _ = benched
    assert (document["schema"], document["version"]) == ("kubespray-harness/bench", bench.SCHEMA_VERSION)
    machine = document["machine"]
    assert machine["cores"] >= 1 and machine["engine_version"] and machine["kernel"], machine
    case = document["cases"][0]
    assert (case["scenario"], case["ref"], case["runs"]) == (*CASE, 1), case
    assert document["matrix"] is None and case["cold"] is None


def test_overhead_ratio_is_the_wall_over_the_kubespray_steps(benched):
    _, document, _ = benched
    case = document["cases"][0]
    assert 0 < case["steps_median_s"] < case["wall_median_s"], case
    assert case["overhead_ratio"] == pytest.approx(case["wall_median_s"] / case["steps_median_s"], abs=0.001)


def test_phases_and_gaps_add_up_to_the_whole_process(benched):
    _, document, _ = benched
    case = document["cases"][0]
    names = [phase["name"] for phase in case["phases"] if phase["kind"] != "gap"]
    assert names == ["setup", "create", "deploy", "scale-kw-3", "verify", "destroy"], names
    total = sum(phase["median_s"] for phase in case["phases"])
    assert total == pytest.approx(case["wall_median_s"], abs=1.0), case["phases"]


def test_every_kubespray_step_names_its_slowest_tasks(benched):
    _, document, _ = benched
    slowest = document["cases"][0]["slowest_tasks"]
    assert set(slowest) == {"deploy", "scale-kw-3"}, list(slowest)
    for step, tasks in slowest.items():
        medians = [task["median_s"] for task in tasks]
        assert len(tasks) == bench.SLOWEST_TASKS and medians == sorted(medians, reverse=True), (step, tasks)


def test_markdown_carries_the_table_and_the_machine(benched):
    _, document, markdown = benched
    assert "| scale-limit@6d4714b66 | 1 |" in markdown, markdown
    assert f"{document['machine']['cores']} cores" in markdown, markdown
    assert "Slowest tasks of `deploy`" in markdown, markdown
