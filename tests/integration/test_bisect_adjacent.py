"""`harness bisect --find fix` over two adjacent commits, 8f4b7f9f5 (Report 2 reproduces) and its
child 6d4714b66 (PR 12020, the fix), with the ends trusted: the real git bisect in the real clone
names the fix and its PR without a scenario run. Seconds. The bisections of `make test-all`
(test_bisect_scale_fix.py, test_bisect_backport.py) run their ends and probes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_fix_is_the_good_end(adjacent_bisection):
    proc, result = adjacent_bisection
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["first_commit"] == "6d4714b66e8d293e9beef8eb4568f3582cf9dccf", result
    assert result["pr"] == "12020"
    assert "main_access_ip" in result["subject"]


def test_git_answers_adjacent_ends_without_a_probe(adjacent_bisection):
    _, result = adjacent_bisection
    assert (result["runs"], result["probes"], result["ends_problem"]) == (0, [], "")
