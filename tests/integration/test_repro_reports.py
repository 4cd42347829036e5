"""`harness repro` on every report of the corpus (tests/data/reports): reproduced on the buggy
refs, not on the fixed ones, nor on v2.27.0 with the release-2.27 backport cherry-picked.
`make test-all` only: about 30 minutes (six repro runs; one cannot reproduce here). Report 2 on its commit, saved as a
scenario, is in `make test` (test_repro_report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import leftovers, run_with_report_json

pytestmark = [pytest.mark.integration, pytest.mark.long]

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
BACKPORT = "6a67d28fa"  # [release-2.27] Make fallback_ip cacheable in facts (#12182)


def _repro(tmp_path: Path, report: str, *args: str, env: dict[str, str] | None = None):
    return run_with_report_json(tmp_path, "repro", str(REPORTS / report), *args, env=env, timeout=1800)


@pytest.fixture(scope="module")
def report_1_buggy(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("r1"), "report-1-upgrade-haproxy.md")


@pytest.fixture(scope="module")
def report_1_fixed(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("r1-fixed"), "report-1-upgrade-haproxy.md", "--ref", "v2.27.1")


@pytest.fixture(scope="module")
def report_1_backport(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("r1-backport"), "report-1-upgrade-haproxy.md", "--cherry-pick", BACKPORT)


@pytest.fixture(scope="module")
def report_2_fixed(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("r2-fixed"), "report-2-scale-main-access-ip.md", "--ref", "6d4714b66")


def test_report_1_reproduces_on_its_commit_at_the_first_worker(report_1_buggy):
    proc, result = report_1_buggy
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["verdict"] == "reproduced", result
    assert result["sha"].startswith("9ec9b3a2")
    assert result["failed_task"] == result["expected_task"] == "kubernetes/node : Haproxy | Write haproxy configuration"
    assert "fallback_ip" in result["failed_message"]
    assert (result["failed_step"], result["failed_hosts"]) == ("command-2", ["kw-1"])  # --limit kw-1
    assert [step["name"] for step in result["steps"]][:4] == ["setup", "create", "deploy", "command-1"]


def test_report_1_does_not_reproduce_on_the_fixed_release(report_1_fixed):
    proc, result = report_1_fixed
    assert proc.returncode == 1
    assert result["verdict"] == "not-reproduced", result
    assert result["failed_task"] is None
    assert "verify" in [step["name"] for step in result["steps"]]
    assert result["checks"]["total"] >= 20 and result["checks"]["failed"] == []


def test_report_1_does_not_reproduce_with_the_backport_cherry_picked(report_1_backport):
    proc, result = report_1_backport
    assert result["verdict"] == "not-reproduced", result
    assert result["sha"].startswith("9ec9b3a2"), "the run stays on the report's commit"
    assert len(result["changes"]) == 1 and result["changes"][0].startswith(f"--cherry-pick {BACKPORT}")
    assert proc.returncode == 1


def test_report_2_does_not_reproduce_on_its_fix(report_2_fixed):
    proc, result = report_2_fixed
    assert proc.returncode == 1
    assert result["verdict"] == "not-reproduced", result


@pytest.fixture(scope="module")
def report_1_yaml(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("r1-yaml"), "report-1-upgrade-haproxy.yaml")


def test_report_1_as_yaml_reproduces_like_its_markdown(report_1_yaml):
    proc, result = report_1_yaml
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["verdict"] == "reproduced", result
    assert (result["failed_step"], result["failed_hosts"]) == ("command-2", ["kw-1"])


def test_repro_runs_leave_no_containers(report_1_buggy, report_1_fixed, report_2_fixed, docker_engine):
    for _, result in (report_1_buggy, report_1_fixed, report_2_fixed):
        run_id = Path(result["run_dir"]).name.rsplit("-", 1)[-1]
        assert leftovers(docker_engine, run_id) == []


@pytest.fixture(scope="module")
def kubeadm_token_report(tmp_path_factory, docker_engine, kubespray_clone):
    return _repro(tmp_path_factory.mktemp("kubeadm-token"), "cannot-reproduce/issue-11626-kubeadm-token.md")


def test_a_report_whose_task_needs_the_kubeadm_binary_cannot_be_reproduced_here(kubeadm_token_report):
    proc, result = kubeadm_token_report
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert result["verdict"] == "cannot-reproduce-here", result
    assert result["failed_task"] == "kubernetes/node : Install | Copy kubeadm binary from download dir"
    assert "not found" in result["failed_message"]  # the download that never ran here
    assert "because tag kubeadm was added to reach the reported task" in result["cannot_reproduce_here"]
    assert result["run"]["expected_task_ran"] is False
    assert "cannot reproduce here:" in proc.stdout
