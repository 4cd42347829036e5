"""Upgrades across releases (`harness run --from`), as two matrix cells at -j 2: the upgrade
scenario deployed with v2.26.0 and upgraded node by node with v2.27.1 (it passes), and deployed
with v2.26.0 and upgraded with v2.27.0 (Report 1's bug shows: v2.26.0's fact cache does not
spare v2.27.0's workers). `make test-all` only: about 15 minutes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import HARNESS

from harness.kubespray import listing

pytestmark = [pytest.mark.integration, pytest.mark.long]

OLD = "v2.26.0"
PAIRS = {"v2.27.1": "passed", "v2.27.0": "expected-failure"}


@pytest.fixture(scope="module")
def upgrades(tmp_path_factory, docker_engine, kubespray_clone) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("across")
    matrix = out / "matrix.yml"
    matrix.write_text(
        "cells:\n" + "".join(f"  - {{scenario: upgrade-node-based, from: {OLD}, ref: {new}}}\n" for new in PAIRS)
    )
    argv = [*HARNESS, "matrix", "--matrix", str(matrix), "-j", "2", "--report-json", str(out / "cells.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    return {cell["ref"]: cell for cell in json.loads((out / "cells.json").read_text())}


@pytest.mark.parametrize(("new", "verdict"), PAIRS.items())
def test_each_upgrade_from_the_previous_release_gets_its_verdict(upgrades, new, verdict):
    cell = upgrades[new]
    assert cell["verdict"] == verdict, (cell["failed_task"], cell["failed_message"])
    assert cell["matches"]


@pytest.mark.parametrize("new", PAIRS)
def test_the_report_names_both_releases(upgrades, new, kubespray_clone):
    cell = upgrades[new]
    old_sha = subprocess.run(
        ["git", f"--git-dir={kubespray_clone}", "rev-parse", f"{OLD}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (cell["from_ref"], cell["from_sha"], cell["ref"]) == (OLD, old_sha, new)


@pytest.mark.parametrize("new", PAIRS)
def test_the_deploy_runs_with_the_old_releases_ansible_and_the_upgrades_with_the_new_ones(upgrades, new):
    logs = Path(upgrades[new]["run_dir"]) / "logs"
    # Each step's log starts "# in the controller (IMAGE): ansible-playbook ...".
    deploy, upgrade = ((logs / name).read_text().splitlines()[0] for name in ("01-deploy.log", "03-upgrade-kw-1.log"))
    assert _image(deploy) != _image(upgrade), (deploy, upgrade)
    assert _image(deploy) == _image(_first_line(upgrades, "v2.27.1", "01-deploy.log"))  # v2.26.0's, both cells


def test_the_deploys_depth_is_counted_against_the_old_releases_playbook(upgrades, settings, kubespray_clone):
    cell = upgrades["v2.27.1"]
    old = listing.list_tasks(settings, cell["from_sha"], "cluster.yml", log=lambda _: None)
    assert cell["coverage"]["deploy"]["listed"] == len(old.tasks), cell["coverage"]["deploy"]


def _first_line(upgrades: dict[str, dict], new: str, log: str) -> str:
    return (Path(upgrades[new]["run_dir"]) / "logs" / log).read_text().splitlines()[0]


def _image(first_line: str) -> str:
    return first_line.split("(", 1)[1].split(")", 1)[0]
