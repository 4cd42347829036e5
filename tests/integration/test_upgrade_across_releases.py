"""Upgrades across releases (`harness run --from`), as two matrix cells at -j 2: the upgrade
scenario deployed with v2.26.0 and upgraded node by node with v2.27.1 (it passes), and deployed
with v2.26.0 and upgraded with v2.27.0 (Report 1's bug shows: v2.26.0's fact cache does not
spare v2.27.0's workers). Both deploy afresh (--no-reuse) and one saves its deploy; then the same
two cells one after the other boot that saved deploy (harness.deploys) and must get the same
verdicts, failures, host checks and node files. `make test-all` only: about 12 minutes."""

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
SAME_IN_BOTH = ("verdict", "matches", "failed_step", "failed_task", "failed_hosts", "failed_message")


def _matrix(out: Path, *options: str) -> dict[str, dict]:
    """The two cells through `harness matrix`, by new release."""
    out.mkdir(parents=True, exist_ok=True)
    matrix = out / "matrix.yml"
    matrix.write_text(
        "cells:\n" + "".join(f"  - {{scenario: upgrade-node-based, from: {OLD}, ref: {new}}}\n" for new in PAIRS)
    )
    argv = [*HARNESS, "matrix", "--matrix", str(matrix), *options, "--report-json", str(out / "cells.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    return {cell["ref"]: cell for cell in json.loads((out / "cells.json").read_text())}


@pytest.fixture(scope="module")
def upgrades(tmp_path_factory, docker_engine, kubespray_clone) -> dict[str, dict]:
    subprocess.run([*HARNESS, "deploys", "--remove"], check=True, capture_output=True)
    return _matrix(tmp_path_factory.mktemp("across"), "-j", "2", "--no-reuse")


@pytest.fixture(scope="module")
def reused(upgrades, tmp_path_factory) -> dict[str, dict]:
    """The same cells again, one at a time: each boots the deploy the first matrix saved."""
    return _matrix(tmp_path_factory.mktemp("reused"), "-j", "1")


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


def test_a_fresh_deploy_is_saved_once_for_later_upgrades_from_its_release(upgrades):
    listed = subprocess.run([*HARNESS, "deploys"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(listed) == 1, listed
    assert f"upgrade-node-based, the deploy at {OLD}" in listed[0]
    assert all(cell["reused_deploy"] is None for cell in upgrades.values())


@pytest.mark.parametrize("new", PAIRS)
def test_a_reused_deploy_skips_the_deploy_and_says_whose_it_was(reused, new):
    cell = reused[new]
    assert cell["reused_deploy"] and f"the deploy at {OLD}" in cell["reused_deploy"], cell["reused_deploy"]
    (deploy,) = [step for step in cell["steps"] if step["name"] == "deploy"]
    assert deploy["reused"] and deploy["seconds"] < 5, deploy


@pytest.mark.parametrize("new", PAIRS)
def test_a_reused_deploy_gives_the_verdict_and_failure_of_a_fresh_one(upgrades, reused, new):
    fresh, again = upgrades[new], reused[new]
    assert {key: again[key] for key in SAME_IN_BOTH} == {key: fresh[key] for key in SAME_IN_BOTH}
    assert _checks(again) == _checks(fresh)


@pytest.mark.parametrize("new", PAIRS)
def test_a_reused_deploy_leaves_the_same_files_on_the_nodes(upgrades, reused, new):
    fresh, again = (_node_files(cells[new]) for cells in (upgrades, reused))
    assert again.keys() == fresh.keys()
    for name in fresh:
        assert again[name] == fresh[name], f"{name} differs: fresh\n{fresh[name]}\nreused\n{again[name]}"


def _checks(cell: dict) -> dict:
    """The cell's host check results, without its run id (in the checks' node names)."""
    return json.loads(json.dumps(cell["checks"]).replace(f"-{cell['run_id']}", ""))


def _node_files(cell: dict) -> dict[str, str]:
    """Each node's kept /etc/hosts and haproxy.cfg, with node addresses named (runs at -j 2 use two subnets)."""
    run_dir = Path(cell["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    files = {}
    for path in sorted((run_dir / "artifacts").glob("*/*")):
        text = path.read_text()
        for node, address in sorted(addresses.items(), key=lambda item: -len(item[1])):
            text = text.replace(address, f"<{node}>")
        files[f"{path.parent.name}/{path.name}"] = _names_sorted(text) if path.name == "hosts" else text
    return files


def _names_sorted(hosts: str) -> str:
    """/etc/hosts with each line's names in order: Kubespray rewrites the localhost lines with
    Ansible's `difference` filter, a set operation whose order changes from one Python process to
    the next (seen: `::1 localhost6 localhost6.localdomain` after one upgrade and the names the
    other way round after another, from the same file)."""
    lines = [line.split() for line in hosts.splitlines()]
    return "\n".join(" ".join([words[0], *sorted(words[1:])]) if words else "" for words in lines)
