"""`harness bisect --find fix` over two adjacent commits: 8f4b7f9f5 (Report 2 reproduces) and
its child 6d4714b66 (PR 12020, the fix). Both ends are run first, so the bisection proves its
probes work; git then has nothing left to test. Reads the session's `adjacent_bisection`
(about 9 minutes), as test_scale_scenario.py does; both modules share a lane."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_fix_is_the_good_end(adjacent_bisection):
    proc, result = adjacent_bisection
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["first_commit"] == "6d4714b66e8d293e9beef8eb4568f3582cf9dccf", result
    assert result["pr"] == "12020"


def test_both_ends_were_run_and_showed_what_they_were_said_to(adjacent_bisection):
    _, result = adjacent_bisection
    assert result["ends_problem"] == ""
    assert [(probe["sha"][:9], probe["verdict"]) for probe in result["probes"]] == [
        ("8f4b7f9f5", "reproduced"),
        ("6d4714b66", "not-reproduced"),
    ]
