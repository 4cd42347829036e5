"""The scale scenario at a51e7dd07, the refactor that brought Report 2's bug: the scale step
fails *earlier*, at another task (a template error fixed by PR 11985), and the harness must say
so, never call it the expected failure. `make test-all` only: about 3 minutes."""

from __future__ import annotations

import pytest
from cli_helpers import run_with_report_json

pytestmark = [pytest.mark.integration, pytest.mark.long]

EXPECTED_TASK = "kubernetes/preinstall : Hosts | create hosts list from inventory"


@pytest.fixture(scope="module")
def refactor_run(tmp_path_factory, docker_engine, kubespray_clone):
    return run_with_report_json(tmp_path_factory.mktemp("scale"), "run", "scale-limit", "--ref", "a51e7dd07")


def test_refactor_commit_fails_elsewhere_never_as_the_expected_failure(refactor_run):
    _, result = refactor_run
    assert result["verdict"] == "unexpected-failure", result
    assert result["failed_task"] != EXPECTED_TASK
    assert result["failed_step"] == "scale-kw-3"
    assert any(difference.startswith("task: ") for difference in result["differences"]), result["differences"]


def test_a_mismatching_verdict_exits_1(refactor_run):
    proc, _ = refactor_run
    assert proc.returncode == 1
