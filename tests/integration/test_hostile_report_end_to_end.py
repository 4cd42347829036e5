"""A hostile report run end to end (`harness repro`): Report 1 with payloads in its variables, a
lookup and Kubespray's own `download_localhost` command. They run, and they run inside the run's
controller container: each leaves a file in /harness/run (the run directory as the controller
sees it) and none in /tmp of this machine. The controller's own view (no Docker socket, no
capability, no host path beyond the run's) is read from what the payload wrote. About 5 minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import host_cgroup_release_agents, host_sysctls, leftovers, run_with_report_json

pytestmark = [pytest.mark.integration, pytest.mark.long]  # make test-all: make test keeps to 25 minutes

REPORT = Path(__file__).resolve().parents[1] / "data" / "reports" / "hostile-end-to-end" / "report-1-with-payloads.md"
PAYLOADS = ("lookup", "download-localhost")
CONTROLLER_MOUNTS = {"/harness/run", "/harness/run/kubespray", "/harness/plugins"}
# What Docker itself bind-mounts into every container.
ENGINE_FILES = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


@pytest.fixture(scope="module")
def hostile_repro(tmp_path_factory, docker_engine, kubespray_clone):
    for payload in PAYLOADS:
        Path(f"/tmp/kh-hostile-e2e-{payload}").unlink(missing_ok=True)
    before = (host_sysctls(), host_cgroup_release_agents())
    proc, result = run_with_report_json(tmp_path_factory.mktemp("hostile"), "repro", str(REPORT), timeout=1800)
    return proc, result, before


def _run_file(result: dict, name: str) -> Path:
    return Path(result["run_dir"]) / name


def test_the_report_still_reproduces_its_bug(hostile_repro):
    proc, result, _ = hostile_repro
    assert result["verdict"] == "reproduced", proc.stdout[-3000:] + proc.stderr[-2000:]
    assert result["failed_task"] == "kubernetes/node : Haproxy | Write haproxy configuration"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_ran_in_the_controller_and_nowhere_on_this_machine(hostile_repro, payload):
    _, result, _ = hostile_repro
    assert _run_file(result, f"canary-{payload}").is_file(), f"the {payload} payload never ran"
    assert not Path(f"/tmp/kh-hostile-e2e-{payload}").exists(), f"the {payload} payload ran on this machine"


def test_the_controller_has_no_docker_socket(hostile_repro):
    _, result, _ = hostile_repro
    said = _run_file(result, "canary-docker-socket").read_text()
    assert said.count("No such file or directory") == 2, said


def test_the_controller_holds_no_capability(hostile_repro):
    _, result, _ = hostile_repro
    capabilities = dict(line.split(":\t") for line in _run_file(result, "canary-capabilities").read_text().splitlines())
    assert {capabilities[name] for name in ("CapEff", "CapPrm", "CapBnd")} == {"0000000000000000"}, capabilities


def test_the_controller_sees_no_path_of_this_machine_but_the_runs(hostile_repro):
    _, result, _ = hostile_repro
    bound = set()
    for line in _run_file(result, "canary-mounts").read_text().splitlines():
        fields = line.split()
        mount_point, source = fields[4], fields[fields.index("-") + 2]
        if source.startswith("/") and source != "/dev" and mount_point != "/":  # a bind of a host path
            bound.add(mount_point)
    assert bound - ENGINE_FILES <= CONTROLLER_MOUNTS, sorted(bound)


def test_the_controller_reaches_nothing_beyond_the_runs_network(hostile_repro):
    _, result, _ = hostile_repro
    said = _run_file(result, "canary-egress").read_text()
    assert said.splitlines()[-1] != "exit 0", said


def test_host_kernel_settings_and_cgroup_release_agents_are_the_same_after_the_hostile_run(hostile_repro):
    _, _, before = hostile_repro
    assert (host_sysctls(), host_cgroup_release_agents()) == before


def test_the_hostile_run_leaves_no_container(hostile_repro, docker_engine):
    _, result, _ = hostile_repro
    run_id = json.loads((Path(result["run_dir"]) / "report.json").read_text())["run_id"]
    assert leftovers(docker_engine, run_id) == []
