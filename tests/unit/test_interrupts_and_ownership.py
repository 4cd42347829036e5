"""How a signal ends the harness (its exit codes, what it passes on to child harness processes)
and who owns a run (its lock, its guard), with real processes and no container."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from harness import interrupts, ownership
from harness.errors import HarnessError
from harness.settings import Settings


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_the_harness_with_128_plus_its_number(signum: int, code: int) -> None:
    stopped = interrupts.Interrupted(signum)

    assert isinstance(stopped, KeyboardInterrupt)  # every cleanup that runs on Ctrl-C runs
    assert stopped.exit_code == code


PARENT = textwrap.dedent(
    """
    import sys, time
    from harness import interrupts
    interrupts.install()
    child = interrupts.spawn([sys.executable, "-c", {child!r}])
    print("started", flush=True)
    try:
        interrupts.wait(child)
    except interrupts.Interrupted as exc:
        print("parent", exc.args[0], "child", interrupts.wait(child), flush=True)
        sys.exit(exc.exit_code)
    """
)
CHILD = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(43))
    time.sleep(60)
    """
)


def test_sigterm_to_the_harness_reaches_its_child_harness_processes() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(child=CHILD)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
    time.sleep(0.5)
    parent.send_signal(signal.SIGTERM)
    out, _ = parent.communicate(timeout=30)

    assert parent.returncode == 143
    assert out.strip() == "parent SIGTERM child 43"


CHILD_HARNESS = "from harness import interrupts; interrupts.install(); import time; time.sleep(60)"


def test_a_child_harness_process_ends_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(child=CHILD_HARNESS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
    children = _children_of(parent.pid)
    assert len(children) == 1
    parent.kill()
    parent.wait()

    deadline = time.monotonic() + 10
    while Path(f"/proc/{children[0]}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (
        not Path(f"/proc/{children[0]}/status").exists() or "zombie" in Path(f"/proc/{children[0]}/status").read_text()
    )


def _guards_gone(run_id: str, seconds: float = 10.0) -> list[int]:
    """The run's guard processes once they are gone, or those left after `seconds` (a guard told
    "done" exits at once, but a loaded machine, two test lanes, can take longer than half a second)."""
    deadline = time.monotonic() + seconds
    while (guards := ownership.guard_pids(run_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return guards


def _guards_started(run_id: str, seconds: float = 10.0) -> list[int]:
    """The run's guard processes once one shows, or none after `seconds`: until the guard's
    Python has exec'd, /proc shows the parent's command line (seen under a loaded machine)."""
    deadline = time.monotonic() + seconds
    while not (guards := ownership.guard_pids(run_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return guards


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_signal_the_shell_told_the_harness_to_ignore_stays_ignored() -> None:
    script = (
        "from harness import interrupts; import signal; interrupts.install(); "
        "print(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as `nohup` starts it
    )

    assert proc.stdout.strip() == "True"  # SIG_IGN


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(Settings.from_env({}), cache_dir=tmp_path / "cache")


def test_a_run_is_live_while_its_owner_holds_it_and_leaves_no_lock(settings: Settings) -> None:
    with ownership.own(settings, "r1", guard=False):
        assert ownership.is_live(settings, "r1")
        assert ownership.lock_file(settings, "r1").is_file()

    assert not ownership.is_live(settings, "r1")
    assert not ownership.lock_file(settings, "r1").exists()


def test_a_lock_left_by_a_dead_owner_is_not_live(settings: Settings) -> None:
    ownership.runs_dir(settings).mkdir(parents=True)  # as a run owning it made it
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); time.sleep(60)",
            str(ownership.lock_file(settings, "r2")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None and owner.stdout.readline().strip() == "locked"
    assert ownership.is_live(settings, "r2")

    owner.kill()
    owner.wait()

    assert not ownership.is_live(settings, "r2")


def test_a_guard_told_the_run_is_done_leaves_without_cleaning(settings: Settings) -> None:
    with ownership.own(settings, "r3"):
        guards = _guards_started("r3")
        assert len(guards) == 1

    assert _guards_gone("r3") == []


def test_a_run_the_engine_left_keeps_its_lock_for_gc_and_says_so_in_one_line(settings: Settings) -> None:
    with pytest.raises(HarnessError) as caught, ownership.own(settings, "r4", (Path("/nonexistent/worktree"),)):
        raise requests.exceptions.ConnectionError("Connection aborted.")  # as the SDK lets it through

    assert caught.value.message == (
        "the Docker engine stopped answering during run r4 (ConnectionError): "
        "start it again, then `harness gc` removes what the run left"
    )
    assert ownership.lock_file(settings, "r4").is_file()  # with the run's record, for `harness gc`
    assert not ownership.is_live(settings, "r4")
    assert _guards_gone("r4") == []  # told "done": it could not remove more than the run could
