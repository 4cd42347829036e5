"""The reliability suite (`make test-reliability`; also in `make test-all` and the nightly
workflow, never in `make test`): every way a run can end leaves nothing behind, runs side by
side and runs repeated get the verdicts they should, two harnesses needing the same new image
build it once, a node killed mid-run is said to be lost (never an expected failure, never a
hang), and the machine's kernel settings read the
same after the suite. Each test adds its figures to `runs/reliability.json` (the README's table).

How much it does is set from the environment: RELIABILITY_INTERRUPTIONS (20), RELIABILITY_REPEATS
(10), RELIABILITY_SEED (a fixed one: the same interruption points every night). In full, about
80 minutes on the 2-core machine."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import signal
import subprocess
import termios
import time
from collections import Counter
from pathlib import Path

import pytest
from cli_helpers import (
    HARNESS,
    UPGRADE_RUN,
    deploy_has_begun,
    eventually,
    host_sysctls,
    leftovers,
    processes_of,
    start_run,
    wait_for_line,
    wait_for_nodes,
    worktrees_of,
)

from harness import ownership

pytestmark = [pytest.mark.integration, pytest.mark.long, pytest.mark.reliability]

INTERRUPTIONS = int(os.environ.get("RELIABILITY_INTERRUPTIONS", "20"))
REPEATS = int(os.environ.get("RELIABILITY_REPEATS", "10"))
SEED = int(os.environ.get("RELIABILITY_SEED", "2026"))
FIGURES = Path(__file__).resolve().parents[2] / "runs" / "reliability.json"
BUGGY_RUN = ("run", "upgrade-node-based", "--ref", "v2.27.0")  # its expected failure (Report 1)
SCALE_RUN = ("run", "scale-limit", "--ref", "6d4714b66")


@pytest.fixture(scope="module")
def figures():
    """What the suite measured, written out after its last test."""
    found: dict = {"seed": SEED}
    yield found
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(found, indent=2) + "\n")


@pytest.fixture(scope="module")
def kernel_before(docker_engine, kubespray_clone) -> dict[str, str]:
    return host_sysctls()


def _in_a_terminal(argv: list[str]) -> tuple[subprocess.Popen, int]:
    """The harness as a user runs it: the foreground of a terminal (a pseudo-terminal here),
    where Ctrl-C is a byte the terminal turns into SIGINT for the foreground process group."""
    controller, terminal = pty.openpty()

    def _take_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        argv,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_take_the_terminal,
    )
    os.close(terminal)
    return proc, controller


def _interrupt_once(docker_engine, how: str, delay: float) -> dict:
    proc, terminal = _in_a_terminal([*HARNESS, *UPGRADE_RUN])
    try:
        first = wait_for_line(proc, "run ")[0]
        run_id = first.split()[1].rstrip(":")
        time.sleep(delay)
        stopped = time.monotonic()
        if how == "SIGINT":
            os.write(terminal, b"\x03")  # Ctrl-C
        elif how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            proc.kill()
        proc.communicate(timeout=600)
        if how == "SIGKILL":
            eventually(lambda: not ownership.guard_pids(run_id), timeout=300)
            gc = subprocess.run([*HARNESS, "gc"], capture_output=True, text=True, timeout=300, check=False)
            assert gc.returncode == 0, gc.stdout + gc.stderr
        left = leftovers(docker_engine, run_id) + [str(pid) for pid in processes_of(run_id)] + worktrees_of(run_id)
        return {
            "how": how,
            "after_s": round(delay, 1),
            "exit": proc.returncode,
            "clean_s": round(time.monotonic() - stopped, 1),
            "left": left,
        }
    finally:
        os.close(terminal)


def test_runs_interrupted_at_random_points_leave_nothing_behind(docker_engine, kubespray_clone, kernel_before, figures):
    rng = random.Random(SEED)
    ways = ["SIGINT", "SIGTERM", "SIGKILL"]
    tries = [_interrupt_once(docker_engine, ways[n % 3], rng.uniform(2, 150)) for n in range(INTERRUPTIONS)]
    figures["interruptions"] = tries

    assert [t for t in tries if t["left"]] == [], "a run left something behind"
    codes = {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}
    assert [t for t in tries if t["exit"] != codes[t["how"]] and t["exit"] not in (0, 1)] == []


def test_two_copies_of_a_scenario_and_another_at_once_get_their_verdicts(docker_engine, kubespray_clone, figures):
    started = time.monotonic()
    argvs = [BUGGY_RUN, BUGGY_RUN, SCALE_RUN]
    procs = [subprocess.Popen([*HARNESS, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for argv in argvs]
    codes = [proc.wait(timeout=3600) for proc in procs]
    figures["side_by_side"] = {"runs": [" ".join(a) for a in argvs], "exit": codes, "seconds": _since(started)}

    assert codes == [0, 0, 0]  # each verdict is its expectation: Report 1 reproduced twice, the scale fix passes


def test_the_same_cell_run_again_and_again_gets_the_same_verdict(docker_engine, kubespray_clone, figures, tmp_path):
    verdicts, seconds = [], []
    for n in range(REPEATS):
        out = tmp_path / f"run-{n}.json"
        started = time.monotonic()
        subprocess.run([*HARNESS, *BUGGY_RUN, "--report-json", str(out)], capture_output=True, timeout=3600)
        seconds.append(_since(started))
        verdicts.append(json.loads(out.read_text())["verdict"] if out.is_file() else "no report")
    count = Counter(verdicts).most_common(1)[0][1]
    figures["repeats"] = {
        "cell": " ".join(BUGGY_RUN),
        "verdicts": verdicts,
        "flake_rate": round(1 - count / len(verdicts), 3),
        "seconds": seconds,
    }

    assert verdicts == ["expected-failure"] * REPEATS


def test_sigterm_while_kubespray_runs_stops_it_and_removes_the_run(docker_engine, kubespray_clone):
    proc, run_id, run_dir = start_run()
    wait_for_line(proc, "molecule converge")
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


def test_a_node_killed_mid_run_is_a_lost_node_never_an_expected_failure(
    docker_engine, kubespray_clone, figures, tmp_path
):
    out = tmp_path / "report.json"
    proc = subprocess.Popen(
        [*HARNESS, *UPGRADE_RUN, "--report-json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = wait_for_line(proc, "logs in ")
    run_id, run_dir = lines[0].split()[1].rstrip(":"), Path(lines[-1].removeprefix("logs in ").strip())
    eventually(lambda: deploy_has_begun(run_dir), timeout=600)
    time.sleep(10)  # the deploy is under way on every node
    docker_engine.containers.get(f"kw-1-{run_id}").kill()
    proc.communicate(timeout=1800)

    report = json.loads(out.read_text())
    figures["node_lost"] = {key: report.get(key) for key in ("verdict", "failed_task", "lost_nodes", "seconds")}
    assert proc.returncode == 1
    assert report["verdict"] == "unexpected-failure", report
    assert report["failed_task"] == "node lost (kw-1)", report
    assert report["lost_nodes"] == {"kw-1": "exited (137)"}, report
    assert leftovers(docker_engine, run_id) == []


def test_two_harnesses_needing_the_same_new_image_build_it_once_and_both_succeed(docker_engine, tmp_path, figures):
    # Debian's mirror with its port spelt out: base, node and lb images nobody built yet.
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache"), "HARNESS_BASE_IMAGE_SOURCE": "debootstrap",
           "HARNESS_DEBIAN_MIRROR": "http://deb.debian.org:80/debian"}  # fmt: skip
    started = time.monotonic()
    procs = [
        subprocess.Popen([*HARNESS, "images"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=1800)[0] for proc in procs]
    built = sorted({line.split()[-1] for out in outputs for line in out.splitlines() if line.startswith("node image:")})
    try:
        figures["same_image_at_once"] = {"exit": [p.returncode for p in procs], "seconds": _since(started)}
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        assert sum("bootstrapping" in out for out in outputs) == 1, outputs  # the other waited, then found it
        assert len(built) == 1, outputs
    finally:
        for out in outputs:
            for line in out.splitlines():
                if line.startswith(("node image:", "lb image:", "building ", "no registry answers")):
                    tag = next(word for word in line.split() if word.startswith("kubespray-harness/"))
                    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
        # The `:current` aliases (for a bare `molecule test`) back on the machine's own images.
        subprocess.run([*HARNESS, "images"], capture_output=True, timeout=1800, check=False)


def test_the_machines_kernel_settings_read_the_same_after_the_suite(kernel_before, figures):
    after = host_sysctls()
    figures["kernel_settings"] = {"before": kernel_before, "after": after}

    assert after == kernel_before


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)
