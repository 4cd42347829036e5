"""Running the harness's CLI from integration tests, and what they look for after a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import provider
from harness.kubespray import source
from harness.settings import Settings

HARNESS = [sys.executable, "-m", "harness"]
UPGRADE_RUN = ("run", "upgrade-node-based", "--ref", "v2.27.1")
HOST_SYSCTLS = [
    "vm/overcommit_memory",
    "vm/max_map_count",
    "kernel/panic",
    "fs/inotify/max_user_instances",
    "net/ipv4/ip_forward",  # read from the test's own (the machine's) network namespace
]


def run_with_report_json(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 3600
) -> tuple[subprocess.CompletedProcess, dict]:
    """`harness ARGS --report-json FILE` through the real CLI, with the JSON it wrote."""
    out = tmp_path / "result.json"
    argv = [*HARNESS, *args, "--report-json", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    assert out.is_file(), proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def bisect_fix(tmp_path: Path, scenario: str, bad: str, good: str, *options: str):
    """`harness bisect SCENARIO --find fix --bad BAD --good GOOD`, with its JSON result."""
    return run_with_report_json(tmp_path, "bisect", scenario, "--find", "fix", "--bad", bad, "--good", good, *options)


def host_sysctls() -> dict[str, str]:
    """Machine-wide kernel settings a node with SYS_ADMIN could reach; a run must leave them alone."""
    return {key: Path("/proc/sys", key).read_text().strip() for key in HOST_SYSCTLS}


def host_cgroup_release_agents() -> dict[str, str]:
    """What each cgroup v1 hierarchy of this machine runs when a cgroup empties (none on v2)."""
    return {str(path): path.read_text().strip() for path in sorted(Path("/sys/fs/cgroup").glob("*/release_agent"))}


def leftovers(client, run_id: str) -> list[str]:
    """Containers and networks that still carry a run's label."""
    selector = {"label": f"{provider.RUN_LABEL}={run_id}"}
    names = [c.name for c in client.containers.list(all=True, filters=selector)]
    return names + [n.name for n in client.networks.list(filters=selector)]


def start_run(*args: str) -> tuple[subprocess.Popen, str, Path]:
    """`harness run ARGS` (the upgrade scenario at its fixed release by default) in a session of
    its own, as CI runs a job: the process, its run id and its run directory."""
    proc = subprocess.Popen(
        [*HARNESS, *(args or UPGRADE_RUN)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    run_id = first.split()[1].rstrip(":") if first.startswith("run ") else None
    assert run_id, first
    second = proc.stdout.readline()
    assert second.startswith("logs in "), second
    return proc, run_id, Path(second.removeprefix("logs in ").strip())


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 600) -> list[str]:
    assert proc.stdout is not None
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen[-20:])}")


def wait_for_nodes(client, run_id: str, timeout: float = 300) -> None:
    selector = {"label": f"{provider.RUN_LABEL}={run_id}"}
    deadline = time.monotonic() + timeout
    while not client.containers.list(filters=selector) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert client.containers.list(filters=selector), "no node container appeared"


def processes_of(run_id: str) -> list[int]:
    """Processes started for the run (they carry HARNESS_RUN_ID in their environment)."""
    marker, found = f"HARNESS_RUN_ID={run_id}".encode(), []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def worktrees_of(run_id: str) -> list[str]:
    clone = source.clone_dir(Settings.from_env())
    listed = subprocess.run(["git", "-C", str(clone), "worktree", "list"], capture_output=True, text=True, check=False)
    return [line for line in listed.stdout.splitlines() if run_id in line]


def eventually(check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    assert check()


def deploy_has_begun(run_dir: Path) -> bool:
    """Kubespray's deploy step has reported a task result."""
    return any(events.stat().st_size > 0 for events in (run_dir / "logs").glob("*-deploy.events.jsonl"))
