"""The node-based upgrade scenario on its buggy and fixed refs, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import provider

pytestmark = pytest.mark.integration

HARNESS = [sys.executable, "-m", "harness"]
HOST_SYSCTLS = ["vm/overcommit_memory", "vm/max_map_count", "kernel/panic", "fs/inotify/max_user_instances"]


def _host_sysctls() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text().strip() for key in HOST_SYSCTLS}


def _leftovers(client, run_id: str) -> list[str]:
    selector = {"label": f"{provider.RUN_LABEL}={run_id}"}
    names = [c.name for c in client.containers.list(all=True, filters=selector)]
    return names + [n.name for n in client.networks.list(filters=selector)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, docker_engine, kubespray_clone):
    """One `harness run` over both refs, as `make scenario-upgrade` does."""
    before = _host_sysctls()
    report = tmp_path_factory.mktemp("pair") / "report.json"
    proc = subprocess.run(
        [*HARNESS, "run", "upgrade-node-based", "--ref", "v2.27.0", "--ref", "v2.27.1", "--report-json", str(report)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    return proc, {r["ref"]: r for r in json.loads(report.read_text())}, before


def test_pair_exits_zero_when_both_verdicts_match(pair):
    proc, _, _ = pair
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_buggy_ref_reproduces_fallback_ip_failure_at_write_haproxy_configuration(pair):
    _, results, _ = pair
    buggy = results["v2.27.0"]
    assert buggy["verdict"] == "expected-failure", buggy
    assert buggy["failed_task"] == "kubernetes/node : Haproxy | Write haproxy configuration"
    assert "fallback_ip" in buggy["failed_message"]
    assert buggy["failed_step"] == "upgrade-kw-1"
    assert buggy["sha"].startswith("9ec9b3a2")


def test_fixed_ref_passes_with_every_check_green(pair):
    _, results, _ = pair
    fixed = results["v2.27.1"]
    assert fixed["verdict"] == "passed", fixed
    assert fixed["checks"]["total"] >= 20 and fixed["checks"]["failed"] == []
    assert [s["name"] for s in fixed["steps"]] == [
        "setup",
        "create",
        "deploy",
        "upgrade-control-plane",
        "upgrade-kw-1",
        "upgrade-kw-2",
        "verify",
        "destroy",
    ]
    assert all(s["rc"] == 0 and s["seconds"] > 0 for s in fixed["steps"][1:])


def test_fixed_ref_workers_haproxy_cfg_lists_every_control_plane(pair):
    _, results, _ = pair
    run_dir = Path(results["v2.27.1"]["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    for worker in ("kw-1", "kw-2"):
        config = (run_dir / "artifacts" / worker / "haproxy.cfg").read_text()
        for control_plane in ("km-1", "km-2", "km-3"):
            line = f"server {control_plane} {addresses[control_plane]}:6443"
            assert line in config, f"{worker} haproxy.cfg lacks '{line}':\n{config}"


def test_runs_leave_no_containers_or_networks(pair, docker_engine):
    _, results, _ = pair
    for result in results.values():
        assert _leftovers(docker_engine, result["run_id"]) == []


def test_runs_leave_the_machines_kernel_settings_alone(pair):
    _, _, before = pair
    assert _host_sysctls() == before


def test_unknown_ref_is_one_clear_line_and_exit_2(kubespray_clone, docker_engine):
    proc = subprocess.run(
        [*HARNESS, "run", "upgrade-node-based", "--ref", "v9.99.9-nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown Kubespray ref 'v9.99.9-nope'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_ctrl_c_during_create_removes_every_container_and_network(docker_engine, kubespray_clone):
    proc = subprocess.Popen(
        [*HARNESS, "run", "upgrade-node-based", "--ref", "v2.27.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "run <id>: ...": this run's own id, whatever else runs beside it
    run_id = first.split()[1].rstrip(":") if first.startswith("run ") else None
    assert run_id, first
    deadline = time.monotonic() + 300
    selector = {"label": f"{provider.RUN_LABEL}={run_id}"}
    while not docker_engine.containers.list(filters=selector) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert docker_engine.containers.list(filters=selector), "no node container appeared"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert _leftovers(docker_engine, run_id) == []
