"""The node-based upgrade scenario on its buggy and fixed refs (the session's `upgrade_matrix`
run, shared with test_matrix_outputs.py: same lane); Ctrl-C; bad input.

Cost, alone: the matrix about 9 minutes, Ctrl-C about 1, the bad input seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import HARNESS, host_sysctls, leftovers

from harness import provider

pytestmark = pytest.mark.integration

HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"


def test_buggy_ref_reproduces_fallback_ip_failure_on_kw_1_in_its_own_step(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    buggy = cells["v2.27.0"]
    assert buggy["verdict"] == "expected-failure", buggy
    where = (buggy["failed_task"], buggy["failed_step"], buggy["failed_hosts"])
    assert where == (HAPROXY_TASK, "upgrade-kw-1", ["kw-1"])
    assert "fallback_ip" in buggy["failed_message"]
    assert buggy["differences"] == []
    assert buggy["sha"].startswith("9ec9b3a2")


def test_fixed_ref_passes_with_every_check_run_and_green(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    fixed = cells["v2.27.1"]
    assert fixed["verdict"] == "passed", fixed
    assert fixed["checks"]["total"] >= 30, fixed["checks"]
    assert fixed["checks"]["failed"] == [] and fixed["checks"]["skipped"] == []
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


def test_fixed_ref_workers_haproxy_cfg_lists_every_control_plane(upgrade_matrix):
    _, _, cells, _ = upgrade_matrix
    run_dir = Path(cells["v2.27.1"]["run_dir"])
    addresses = json.loads((run_dir / "nodes.json").read_text())
    for worker in ("kw-1", "kw-2"):
        config = (run_dir / "artifacts" / worker / "haproxy.cfg").read_text()
        for control_plane in ("km-1", "km-2", "km-3"):
            line = f"server {control_plane} {addresses[control_plane]}:6443"
            assert line in config, f"{worker} haproxy.cfg lacks '{line}':\n{config}"


def test_runs_leave_the_machines_kernel_settings_alone(upgrade_matrix):
    *_, before = upgrade_matrix
    assert host_sysctls() == before


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


def test_an_expected_failure_on_a_host_the_step_does_not_reach_is_refused_before_anything_starts(kubespray_clone):
    argv = [
        *HARNESS, "run", "upgrade-node-based", "--ref", "v2.27.1", "--expect-fail-task", HAPROXY_TASK,
        "--expect-fail-step", "upgrade-kw-1", "--expect-fail-host", "lb-1", "--expect-fail-message", "fallback_ip",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "host(s) lb-1 are not Kubespray hosts" in proc.stderr, proc.stderr
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
    assert leftovers(docker_engine, run_id) == []
