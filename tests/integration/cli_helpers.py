"""Running the harness's CLI from integration tests, and what they look for after a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import provider

HARNESS = [sys.executable, "-m", "harness"]
HOST_SYSCTLS = ["vm/overcommit_memory", "vm/max_map_count", "kernel/panic", "fs/inotify/max_user_instances"]


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
