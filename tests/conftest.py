"""The test tiers, and the two lanes `make test` runs the integration modules in.

Tiers: unit tests (no Docker, seconds); integration tests (marker `integration`: real
containers, real Kubespray refs); of those, the long ones (marker `long`: the long
bisections, every report of the corpus) run only in `make test-all`, which the nightly
workflow runs.

Lanes: each integration module runs whole scenarios (minutes each, session-scoped runs
read by several modules), so a module, and every module reading the same run, must stay
on one pytest-xdist worker, and the workers should finish together. xdist's
`loadfile` queues a second module on a worker with two tests or fewer left, and its
`xdist_group` marks do nothing under pytest 9, so the lanes are set here, balanced by
hand on measured times (minutes, each module alone on the 2-core machine). A run uses a
little less than one core (Ansible's controller), so two or three runs at once share the two
cores well; four at once were measured slower than one after the other (deploys of 11-15
minutes instead of 2-3: the machine thrashes). So two lanes, one of which runs the two-cell
matrix: three runs at most. A new integration module joins the shorter lane of its tier,
beside the modules that read the same run.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from harness import provider
from harness.errors import HarnessError
from harness.kubespray import source
from harness.settings import Settings

LANES = {
    # make test
    "test_upgrade_scenario.py": "lane-a",  # 11: upgrade_matrix (two runs at once)
    "test_matrix_outputs.py": "lane-a",  # 0: reads upgrade_matrix
    "test_interrupt_and_bad_input.py": "lane-b",  # 2: runs interrupted during create (Ctrl-C, SIGTERM)
    "test_host_specs_on_a_node.py": "lane-a",  # 0.2: one container
    "test_nodes_up.py": "lane-a",  # 0.2: `harness nodes up` and `down` for six nodes
    "test_bad_environment.py": "lane-a",  # 1: a full disk (tmpfs), a source nobody answers at
    "test_corpus.py": "lane-a",  # 4: one corpus case (two nodes), its two repro runs
    "test_scale_scenario.py": "lane-b",  # 6: scale_run
    "test_repro_report.py": "lane-b",  # 5: report_2_repro
    "test_bisect_adjacent.py": "lane-b",  # 0.1: git only (the ends are trusted)
    "test_etc_hosts_tasks_of_real_refs.py": "lane-b",  # 0.1: git only
    "test_bench_smoke.py": "lane-b",  # 4: `harness bench` once (one scale-limit run)
    # make test-all only (marker `long`); measured in make test-all, the lanes beside each other
    "test_nightly_regression.py": "lane-a",  # 60: two nights, a rerun and a bisection (scale)
    "test_bisect_scale_fix.py": "lane-a",  # 25: ends and probes of the scale scenario
    "test_scale_refactor_commit.py": "lane-a",  # 5
    "test_bisect_backport.py": "lane-b",  # 45: ends and probes of the upgrade scenario
    "test_repro_reports.py": "lane-b",  # 36: six repro runs
    "test_current_release.py": "lane-b",  # 12: both scenarios at v2.31.0, -j 2
    "test_corpus_all.py": "lane-a",  # every corpus case, one replay at a time
    "test_hostile_report_end_to_end.py": "lane-a",  # 10: a repro of Report 1 carrying payloads
    "test_upgrade_across_releases.py": "lane-b",  # 12: two upgrades from v2.26.0 at -j 2, then two reusing its deploy
    "test_nginx_scenario.py": "lane-a",  # 8.5: one run, kept, then `harness down`
    "test_reliability.py": "lane-b",  # 80: interruptions, three runs side by side, repeats
    "test_engine_stop.py": "lane-b",  # 2: deselected there (marker engine_stop); make test-engine-stop
}


@pytest.hookimpl(optionalhook=True)  # without xdist (`-p no:xdist`) there is no such hook
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
    # workers start with one lane each; the unit modules fill in behind them.
    config.option.loadscopereorder = False
    return LaneScheduling(config, log)


# What the integration tier and the reliability suite share: without an engine or a clone they skip.
@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def docker_engine():
    try:
        return provider.connect()
    except HarnessError as exc:
        pytest.skip(f"no Docker engine: {exc.message}")


@pytest.fixture(scope="session")
def kubespray_clone(settings: Settings):
    try:
        return source.ensure_clone(settings)
    except HarnessError as exc:
        pytest.skip(f"no Kubespray clone: {exc.message} (see README: using a local Kubespray clone)")
