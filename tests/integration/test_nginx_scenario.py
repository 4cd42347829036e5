"""The third scenario, written as one file: the node-based upgrade behind Kubespray's default
localhost balancer (nginx), at v2.27.1, through `harness run --keep`; then `harness down`.
Its kept nodes also show what root inside a node can reach of this machine (the containment
checks: they look, they never try an escape). About 6 minutes (one run)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import HARNESS, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.long]  # make test-all: make test keeps to 25 minutes

SCENARIO = "upgrade-node-based-nginx"
LOAD_STREAM = "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"  # Debian's nginx: see the check
NGINX_CHECKS = {
    "test_upstream_has_exactly_one_server_per_control_plane",
    "test_upstream_servers_are_control_plane_addresses_at_the_api_server_port",
    "test_proxy_listens_on_localhost_at_the_balancer_port",
    "test_nginx_accepts_the_config",
}


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, docker_engine, kubespray_clone):
    out = tmp_path_factory.mktemp("nginx") / "result.json"
    argv = [*HARNESS, "run", SCENARIO, "--ref", "v2.27.1", "--keep", "--report-json", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    started = re.search(r"^run ([0-9a-f]{8}):", proc.stdout, re.MULTILINE)
    try:
        assert out.is_file(), proc.stderr[-3000:]
        yield proc, json.loads(out.read_text())
    finally:  # the kept nodes go, whatever failed
        if started:
            subprocess.run([*HARNESS, "down", started.group(1)], capture_output=True, check=False)


def test_the_scenario_passes_with_every_nginx_check_run_on_both_workers(kept_run):
    proc, result = kept_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert result["verdict"] == "passed", result
    assert result["checks"]["failed"] == [] and result["checks"]["skipped"] == []
    ran = (Path(result["run_dir"]) / "verify-junit.xml").read_text()
    assert all(f"{check}[ansible://{worker}-" in ran for check in NGINX_CHECKS for worker in ("kw-1", "kw-2"))


def test_the_haproxy_checks_are_named_not_applicable_with_the_reason(kept_run):
    _, result = kept_run
    not_applicable = result["checks"]["not_applicable"]
    haproxy = {name: why for name, why in not_applicable.items() if name.startswith(("test_backend", "test_frontend"))}
    assert len(haproxy) == 6, not_applicable  # three checks on each of the two workers
    assert set(haproxy.values()) == {"the workers' localhost API server load balancer is nginx, not haproxy"}


def test_the_kept_nodes_run_after_the_verdict_and_hold_what_kubespray_wrote(kept_run, docker_engine):
    proc, result = kept_run
    run_id = result["run_id"]
    assert f"harness down {run_id}" in proc.stdout
    assert {f"{node}-{run_id}" for node in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "lb-1")} <= set(
        leftovers(docker_engine, run_id)
    )
    nginx_t = ["nginx", "-t", "-c", "/etc/nginx/nginx.conf", "-g", LOAD_STREAM]
    check = docker_engine.containers.get(f"kw-1-{run_id}").exec_run(nginx_t)
    assert check.exit_code == 0, check.output.decode()


def test_matrix_report_reads_the_runs_report_json(kept_run, tmp_path):
    _, result = kept_run
    junit = tmp_path / "junit.xml"
    argv = [*HARNESS, "matrix-report", str(Path(result["run_dir"]) / "report.json"), "--junit", str(junit)]

    shown = subprocess.run(argv, capture_output=True, text=True, check=False)

    assert shown.returncode == 0, shown.stderr
    assert f"{SCENARIO}" in shown.stdout and "passed" in shown.stdout
    assert 'failures="0"' in junit.read_text()


# --- containment: what root in a node can reach of this machine, seen in the kept nodes -------

NODES = ("km-1", "km-2", "km-3", "kw-1", "kw-2", "lb-1")


def _in_node(docker_engine, run_id: str, node: str, script: str) -> str:
    """What `sh -c script` prints as root in the node (the way Kubespray's tasks run there)."""
    done = docker_engine.containers.get(f"{node}-{run_id}").exec_run(["sh", "-c", script])
    assert done.exit_code == 0, done.output.decode()
    return done.output.decode()


@pytest.mark.parametrize("node", NODES)
def test_no_cgroup_release_agent_is_in_reach_of_a_node(kept_run, docker_engine, node):
    # On cgroup v1 the hierarchy root's release_agent runs as root on the host: a known escape.
    script = "find /sys/fs/cgroup -maxdepth 3 -name release_agent; grep ' /sys/fs/cgroup' /proc/mounts"
    found = _in_node(docker_engine, kept_run[1]["run_id"], node, script)
    writable = [line for line in found.splitlines() if line.endswith("release_agent")]
    # The controllers' v1 hierarchies stay read-only; systemd's own (name=systemd, or cgroup2) is
    # mounted afresh read-write by the entrypoint: in the node's cgroup namespace, its own subtree.
    mounts = [line.split() for line in found.splitlines() if not line.endswith("release_agent")]
    v1_read_write = [m for m in mounts if m[2] == "cgroup" and "name=systemd" not in m[3] and "rw" in m[3].split(",")]
    assert writable == [] and v1_read_write == [], found


@pytest.mark.parametrize("node", NODES)
def test_no_kernel_setting_or_pseudo_file_of_the_host_is_writable_in_a_node(kept_run, docker_engine, node):
    # /proc/sys (vm.*, kernel.*: host-wide), /sys (securityfs, pstore, bpffs, fusectl, ...); the
    # node's own cgroup namespace under /sys/fs/cgroup aside.
    script = "find /proc/sys /sys -path /sys/fs/cgroup -prune -o -type f -writable -print 2>/dev/null; true"
    writable = _in_node(docker_engine, kept_run[1]["run_id"], node, script).split()
    assert writable == [], writable


@pytest.mark.parametrize("node", NODES)
def test_a_node_sees_no_host_block_device_and_may_open_none(kept_run, docker_engine, node):
    script = "find /dev -type b; cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; true"
    seen = _in_node(docker_engine, kept_run[1]["run_id"], node, script).splitlines()
    block_devices = [line for line in seen if line.startswith("/dev/")]
    # cgroup v1 device rules ("b *:* m" lets mknod make a node, never read or write one)
    block_rules_with_access = [line for line in seen if line.startswith("b ") and set("rw") & set(line.split()[-1])]
    assert block_devices == [] and block_rules_with_access == [], seen


CAP_SYS_ADMIN = 21


@pytest.mark.parametrize("node", NODES)
def test_no_process_systemd_started_may_mount(kept_run, docker_engine, node):
    # PID 1 and sshd (through which Kubespray's tasks run) hold no SYS_ADMIN, not even in their
    # bounding set: no mount, no remount of /proc/sys, for anything Kubespray or a report runs.
    script = 'for pid in 1 $(pgrep -x sshd); do echo "$pid $(grep CapBnd /proc/$pid/status)"; done'
    bounding = {
        line.split()[0]: int(line.split()[-1], 16)
        for line in _in_node(docker_engine, kept_run[1]["run_id"], node, script).splitlines()
    }
    assert len(bounding) >= 2, bounding  # PID 1 and at least one sshd
    assert [pid for pid, caps in bounding.items() if caps >> CAP_SYS_ADMIN & 1] == [], bounding


@pytest.mark.parametrize("node", NODES)
def test_a_node_runs_under_a_seccomp_filter(kept_run, docker_engine, node):
    status = _in_node(docker_engine, kept_run[1]["run_id"], node, "grep Seccomp: /proc/1/status")
    assert status.split() == ["Seccomp:", "2"], status  # 2: filtered (Docker's default profile)


def test_down_removes_the_nodes_network_and_worktree_then_finds_nothing_left(kept_run, docker_engine):
    _, result = kept_run
    run_id = result["run_id"]

    down = subprocess.run([*HARNESS, "down", run_id], capture_output=True, text=True, check=False)

    assert down.returncode == 0, down.stderr
    assert "container(s)" in down.stdout and "worktree" in down.stdout, down.stdout
    assert leftovers(docker_engine, run_id) == []
    assert not (Path(result["run_dir"]) / "kubespray").exists()
    again = subprocess.run([*HARNESS, "down", run_id], capture_output=True, text=True, check=False)
    assert again.returncode == 2 and f"nothing of run {run_id} is left" in again.stderr
