"""The Docker engine stopping in the middle of a run: one clear line and exit 2, then, once the
engine is back, `harness gc` removes what the run left (`make test-engine-stop`; also in `make
test-reliability`). It stops the machine's engine, and with it every container of every run, so
it runs only with nothing else on the engine: never in `make test` or beside `make test-all`'s
lanes. About 5 minutes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import (
    HARNESS,
    deploy_has_begun,
    eventually,
    leftovers,
    processes_of,
    start_run,
    wait_for_line,
    worktrees_of,
)

from harness import ownership, provider
from harness.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.long, pytest.mark.engine_stop]

FIGURES = Path(__file__).resolve().parents[2] / "runs" / "engine-stop.json"


class Engine:
    """The machine's Docker engine, stopped and started again: through systemd where systemd runs
    it (CI's runners), else by signalling dockerd and starting it again with the same command."""

    def __init__(self) -> None:
        self.systemd = shutil.which("systemctl") is not None and _quiet(["systemctl", "is-active", "docker"])
        self.argv: list[str] = []

    def stop(self) -> None:
        if self.systemd:
            subprocess.run(["systemctl", "stop", "docker.socket", "docker"], check=True)
            return
        found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=True)
        pid = int(found.stdout.split()[0])
        self.argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")
        subprocess.run(["kill", "-TERM", str(pid)], check=True)
        eventually(lambda: not Path(f"/proc/{pid}").exists(), timeout=120)

    def start(self) -> None:
        if self.systemd:
            subprocess.run(["systemctl", "start", "docker"], check=True)
        elif self.argv:
            FIGURES.parent.mkdir(parents=True, exist_ok=True)
            with FIGURES.with_name("dockerd-restarted.log").open("ab") as log:
                subprocess.Popen(self.argv, stdout=log, stderr=log, start_new_session=True)
        eventually(lambda: _quiet(["docker", "info"]), timeout=120)


def _quiet(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@pytest.fixture
def engine(docker_engine) -> Iterator[Engine]:
    handle = Engine()
    try:
        yield handle
    finally:
        if not _quiet(["docker", "info"]):
            handle.start()  # whatever the test did, the machine gets its engine back


def test_the_engine_stopping_mid_run_is_one_line_then_harness_gc_removes_the_run(engine, kubespray_clone):
    proc, run_id, run_dir = start_run()
    wait_for_line(proc, "molecule converge")
    eventually(lambda: deploy_has_begun(run_dir), timeout=600)  # Kubespray's cluster.yml runs on the nodes
    stopped = time.monotonic()
    engine.stop()
    _, stderr = proc.communicate(timeout=300)
    ended = time.monotonic() - stopped

    assert proc.returncode == 2, stderr
    assert (
        stderr.strip().splitlines()[-1].startswith(f"error: the Docker engine stopped answering during run {run_id} (")
    ), stderr
    assert stderr.strip().endswith("start it again, then `harness gc` removes what the run left"), stderr
    assert processes_of(run_id) == []  # Molecule and Ansible did not go on
    assert worktrees_of(run_id) == []
    assert ownership.lock_file(Settings.from_env(), run_id).is_file()  # so that gc finds the run

    engine.start()
    client = provider.connect()
    assert leftovers(client, run_id), "the engine kept nothing of the run: there was nothing for gc to do"
    gc = subprocess.run([*HARNESS, "gc"], capture_output=True, text=True, timeout=300, check=False)

    assert gc.returncode == 0, gc.stderr
    assert f"run {run_id}: removed" in gc.stdout, gc.stdout
    assert leftovers(client, run_id) == []
    assert not ownership.lock_file(Settings.from_env(), run_id).exists()
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps({"run": run_id, "exit": proc.returncode, "ended_after_stop_s": round(ended, 1),
                                   "gc": gc.stdout.strip()}, indent=2) + "\n")  # fmt: skip
