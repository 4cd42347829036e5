"""Ctrl-C in the middle of a run leaves nothing behind; bad input is one line and exit 2, before
anything starts. About 2 minutes (runs interrupted during create: Ctrl-C, SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from cli_helpers import HARNESS, leftovers, processes_of, start_run, wait_for_nodes, worktrees_of

from harness import provider

pytestmark = pytest.mark.integration

HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"


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
        # As a user's Ctrl-C finds it: a runner or a benchmark may have left SIGINT ignored, and
        # a child that inherits that never sees the signal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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


def test_sigterm_during_create_removes_the_run_and_its_report_says_interrupted(docker_engine, kubespray_clone):
    proc, run_id, run_dir = start_run()  # in a session of its own, as a CI job
    wait_for_nodes(docker_engine, run_id)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)

    assert proc.returncode == 143, stderr
    assert "interrupted (SIGTERM)" in stderr
    assert leftovers(docker_engine, run_id) == []
    assert processes_of(run_id) == [] and worktrees_of(run_id) == []
    assert json.loads((run_dir / "report.json").read_text())["verdict"] == "interrupted"
