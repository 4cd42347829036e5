"""`harness bisect --find fix` on release-2.27: the commit between v2.27.0 and v2.27.1 that
fixed Report 1 is the backport 6a67d28fa (PR 12182, fallback_ip cacheable). Both ends are run
first. `make test-all` only: about 45 minutes (six or seven upgrade runs)."""

from __future__ import annotations

import pytest
from cli_helpers import bisect_fix

pytestmark = [pytest.mark.integration, pytest.mark.long]


@pytest.fixture(scope="module")
def bisection(tmp_path_factory, docker_engine, kubespray_clone):
    return bisect_fix(tmp_path_factory.mktemp("bisect"), "upgrade-node-based", "v2.27.0", "v2.27.1")


def test_first_fixed_commit_is_the_fallback_ip_backport(bisection):
    proc, result = bisection
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["first_commit"].startswith("6a67d28fa"), result
    assert result["pr"] == "12182"
    assert "fallback_ip" in result["subject"]


def test_commits_failing_elsewhere_are_skipped_not_blamed(bisection):
    _, result = bisection
    assert result["ends_problem"] == ""
    assert [probe["verdict"] for probe in result["probes"][:2]] == ["reproduced", "not-reproduced"]
    assert result["first_commit"] not in result["skipped"]
    assert all(p["verdict"] != "error" for p in result["probes"]), result["probes"]
