"""Both scenarios on a Kubespray release operators pick today, v2.31.0 (Ansible 11), which no
longer writes /etc/hosts (PR 12382): they pass, with the /etc/hosts checks that follow the ref.
A two-cell matrix at -j 2. `make test-all` only: about 12 minutes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import HARNESS

pytestmark = [pytest.mark.integration, pytest.mark.long]

REF = "v2.31.0"
LEAVES_ETC_HOSTS = {"test_hosts_file_is_as_before_the_deploy", "test_no_kubespray_inventory_block_is_left"}


@pytest.fixture(scope="module")
def current(tmp_path_factory, docker_engine, kubespray_clone):
    out = tmp_path_factory.mktemp("current")
    matrix = out / "matrix.yml"
    matrix.write_text(
        "cells:\n"
        f"  - {{scenario: upgrade-node-based, ref: {REF}, expect: passed}}\n"
        f"  - {{scenario: scale-limit, ref: {REF}, expect: passed}}\n"
    )
    argv = [*HARNESS, "matrix", "--matrix", str(matrix), "-j", "2", "--report-json", str(out / "cells.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    return proc, {cell["scenario"]: cell for cell in json.loads((out / "cells.json").read_text())}


@pytest.mark.parametrize("scenario", ["upgrade-node-based", "scale-limit"])
def test_the_scenario_passes_on_the_current_release(current, scenario):
    _, cells = current
    cell = cells[scenario]
    assert cell["verdict"] == "passed", (cell["failed_task"], cell["failed_message"])
    assert cell["checks"]["failed"] == [] and cell["checks"]["skipped"] == []


def test_the_matrix_exits_zero_when_every_cell_matches(current):
    proc, cells = current
    assert proc.returncode == 0, {scenario: cell["verdict"] for scenario, cell in cells.items()}


@pytest.mark.parametrize("scenario", ["upgrade-node-based", "scale-limit"])
def test_etc_hosts_is_checked_as_left_alone_not_for_a_block(current, scenario):
    _, cells = current
    checks = cells[scenario]["checks"]
    not_applicable = {name.split("[")[0] for name in checks["not_applicable"]}
    assert LEAVES_ETC_HOSTS.isdisjoint(not_applicable), "the left-alone checks ran"
    assert "test_inventory_block_has_one_line_per_cluster_host" in not_applicable
    etc_hosts = [why for why in checks["not_applicable"].values() if "/etc/hosts" in why]
    assert etc_hosts and all("does not write" in why for why in etc_hosts)


def test_every_node_holds_the_etc_hosts_it_had_before_the_deploy(current):
    _, cells = current
    run_dir = Path(cells["scale-limit"]["run_dir"])
    for node in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "kw-3"):
        before = (run_dir / "before-deploy" / node / "hosts").read_text()
        assert (run_dir / "artifacts" / node / "hosts").read_text() == before, node
