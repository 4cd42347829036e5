"""`make test` runs the integration modules in two lanes, one per pytest-xdist worker.

Each integration module runs whole scenarios (minutes each, module-scoped fixtures), so it
must stay on one worker, and the two workers should finish together. xdist's `loadfile`
queues a second module on a worker that has two tests or fewer left, which put both
bisections behind each other on one worker (77 minutes in all); its `xdist_group` marks do
nothing under pytest 9. So the lanes are set here, balanced by hand on measured times
(alone, in minutes). A new integration module joins the shorter lane.
"""

from __future__ import annotations

from pathlib import PurePosixPath

LANES = {
    "test_repro_reports.py": "lane-a",  # 22
    "test_scale_scenario.py": "lane-a",  # 11
    "test_matrix_parallel.py": "lane-a",  # 6
    "test_bisect_backport.py": "lane-b",  # 22
    "test_bisect_scale_fix.py": "lane-b",  # 12
    "test_upgrade_scenario.py": "lane-b",  # 9
}


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        """Scopes are modules, except that the integration modules of a lane are one scope."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return LANES.get(PurePosixPath(module).name, module)

    if config.getoption("dist") not in ("loadfile", "loadscope"):
        return None
    # Collection order, not largest scope first: the integration modules come first, so the
    # two workers start with one lane each; the unit modules fill in behind them.
    config.option.loadscopereorder = False
    return LaneScheduling(config, log)
