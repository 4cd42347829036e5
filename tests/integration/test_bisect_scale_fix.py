"""`harness bisect --find fix` on the scale scenario: the first commit after e33237529 where
Report 2 no longer reproduces is 6d4714b66 (PR 12020, main_access_ip cacheable). Both ends are
run first. `make test-all` only: about 25 minutes (five or six scale runs)."""

from __future__ import annotations

import pytest
from cli_helpers import bisect_fix

pytestmark = [pytest.mark.integration, pytest.mark.long]


@pytest.fixture(scope="module")
def bisection(tmp_path_factory, docker_engine, kubespray_clone):
    return bisect_fix(tmp_path_factory.mktemp("bisect"), "scale-limit", "e33237529", "6d4714b66")


def test_first_fixed_commit_is_the_main_access_ip_fix(bisection):
    proc, result = bisection
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["first_commit"] == "6d4714b66e8d293e9beef8eb4568f3582cf9dccf", result
    assert result["pr"] == "12020"
    assert "main_access_ip" in result["subject"]


def test_every_probe_answered_with_the_bug_or_without_it(bisection):
    _, result = bisection
    assert 3 <= result["runs"] <= 7, result["probes"]  # the two ends, then log2 of 12 commits
    assert [probe["sha"][:9] for probe in result["probes"][:2]] == ["e33237529", "6d4714b66"]
    assert result["ends_problem"] == ""
    assert {probe["verdict"] for probe in result["probes"]} <= {"reproduced", "not-reproduced", "failed-elsewhere"}
    assert result["skipped"] == [p["sha"] for p in result["probes"] if p["verdict"] == "failed-elsewhere"]
