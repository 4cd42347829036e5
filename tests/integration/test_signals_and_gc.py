"""Every way a run can end leaves nothing behind: SIGTERM (a CI job cancelled) while Kubespray
runs, SIGKILL of the harness (its guard cleans up), and SIGKILL of both (then `harness gc`).
About 3 minutes: three runs of the upgrade scenario, each stopped early. (A node lost mid-run
is in the reliability suite.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from cli_helpers import (
    HARNESS,
    deploy_has_begun,
    eventually,
    leftovers,
    processes_of,
    start_run,
    wait_for_line,
    wait_for_nodes,
    worktrees_of,
)

from harness import ownership

pytestmark = pytest.mark.integration


def test_sigterm_while_kubespray_runs_stops_it_and_removes_the_run(docker_engine, kubespray_clone):
    proc, run_id, run_dir = start_run()
    wait_for_line(proc, "molecule prepare")
    eventually(lambda: deploy_has_begun(run_dir), timeout=600)  # Kubespray's cluster.yml runs on the nodes
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)

    assert proc.returncode == 143, stderr
    assert "interrupted (SIGTERM)" in stderr
    assert leftovers(docker_engine, run_id) == []
    assert processes_of(run_id) == []
    assert worktrees_of(run_id) == []
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"] == "interrupted" and report["failed_message"] == "interrupted by SIGTERM", report


def test_sigkill_of_the_harness_leaves_its_guard_to_remove_the_run(docker_engine, kubespray_clone):
    proc, run_id, _ = start_run()
    wait_for_nodes(docker_engine, run_id)
    proc.kill()
    proc.communicate(timeout=60)

    eventually(lambda: leftovers(docker_engine, run_id) == [] and processes_of(run_id) == [])
    eventually(lambda: worktrees_of(run_id) == [])


def test_harness_gc_removes_a_run_whose_harness_and_guard_were_killed(docker_engine, kubespray_clone):
    proc, run_id, _ = start_run()
    wait_for_nodes(docker_engine, run_id)
    guards = ownership.guard_pids(run_id)
    assert len(guards) == 1, "the run has no guard process"
    os.kill(guards[0], signal.SIGKILL)
    proc.kill()
    proc.communicate(timeout=60)
    assert leftovers(docker_engine, run_id), "nothing was left to collect"

    gc = subprocess.run([*HARNESS, "gc"], capture_output=True, text=True, timeout=300, check=False)

    assert gc.returncode == 0, gc.stderr
    assert f"run {run_id}: removed" in gc.stdout, gc.stdout
    assert leftovers(docker_engine, run_id) == []
    assert processes_of(run_id) == []
    assert worktrees_of(run_id) == []
