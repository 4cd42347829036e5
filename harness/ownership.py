"""Who owns a run, and what happens to it when its owner is gone.

Every run holds an exclusive lock on `<cache>/runs/<run id>.lock` for as long as its harness
process lives (the kernel drops it when the process dies, however it dies), and the file
records the process and the run's worktrees. The containers, networks and volumes of the run
carry its run id as a label (harness.provider.RUN_LABEL). So:

- a run is *live* while someone holds its lock; `harness gc` never touches a live run;
- a **guard** process, started with the run in a session of its own, waits for the harness to
  close a pipe. A harness that ends normally says "done" first; one killed with SIGKILL does
  not, and the guard then takes the lock, stops the run's processes (Molecule, Ansible, their
  daemonized async jobs) and removes its nodes, network and worktree: nothing goes on working
  on half-removed nodes;
- `harness gc` removes what runs whose owner is gone left behind (the guard killed too, the
  machine rebooted): labelled containers, networks and volumes, worktrees, processes, locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness import molecule, provider
from harness.errors import HarnessError
from harness.kubespray import source
from harness.settings import Settings

DONE = b"done\n"


def runs_dir(settings: Settings) -> Path:
    return settings.cache_dir / "runs"


def lock_file(settings: Settings, run_id: str) -> Path:
    return runs_dir(settings) / f"{run_id}.lock"


@contextmanager
def own(settings: Settings, run_id: str, worktrees: tuple[Path, ...] = (), guard: bool = True) -> Iterator[None]:
    """Own the run for the block: its lock held, its record written, its guard watching.

    When the Docker engine stops answering, what the run made cannot be removed now: the lock
    file stays, so that `harness gc` finds the run (its owner gone) once the engine is back."""
    path = lock_file(settings, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_record(lock, {"pid": os.getpid(), "worktrees": [str(path) for path in worktrees]})
        watcher = _start_guard(settings, run_id, path) if guard else None
        left_behind = False
        try:
            yield
        except (provider.EngineGone, *provider.ENGINE_GONE) as exc:
            left_behind = True
            raise HarnessError(
                f"the Docker engine stopped answering during run {run_id} ({exc.__class__.__name__}): "
                "start it again, then `harness gc` removes what the run left"
            ) from exc
        finally:
            if watcher is not None:
                _release_guard(watcher)  # the guard could not remove more than this process could
            if not left_behind:
                path.unlink(missing_ok=True)


def _write_record(lock: IO[str], record: dict) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(json.dumps(record) + "\n")
    lock.flush()


def _start_guard(settings: Settings, run_id: str, path: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "harness.ownership", "guard", run_id, str(path)]
    env = {**os.environ, "HARNESS_CACHE_DIR": str(settings.cache_dir)}
    env.pop("HARNESS_RUN_ID", None)  # the guard must not count among the run's processes it stops
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: Ctrl-C in the terminal, or a signal to the harness's group, must not stop it.
        start_new_session=True,
        env=env,
    )


def _release_guard(watcher: subprocess.Popen) -> None:
    assert watcher.stdin is not None
    with suppress(BrokenPipeError):
        watcher.stdin.write(DONE)
        watcher.stdin.close()
    watcher.wait()


def guard_pids(run_id: str) -> list[int]:
    """The guard processes watching a run (normally one while it runs, none after)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if words[1:4] == [b"-m", b"harness.ownership", b"guard"] and run_id.encode() in words:
            found.append(int(cmdline.parent.name))
    return found


def is_live(settings: Settings, run_id: str) -> bool:
    """Whether a process holds the run's lock (a run without a lock file has no owner here)."""
    path = lock_file(settings, run_id)
    if not path.is_file():
        return False
    with path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


@dataclass
class Removed:
    run_id: str
    processes: int = 0
    resources: int = 0  # containers, networks, volumes
    worktrees: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{self.resources} container(s)/network(s)/volume(s)"]
        if self.processes:
            parts.append(f"{self.processes} process(es)")
        parts += [f"worktree {worktree}" for worktree in self.worktrees]
        return f"run {self.run_id}: removed " + ", ".join(parts)


def clean_up(settings: Settings, run_id: str) -> Removed:
    """Remove what a run whose owner is gone left: processes, labelled resources, worktree, lock.
    The caller holds the run's lock (or knows no one does)."""
    removed = Removed(run_id)
    removed.processes = molecule.stop_run_processes(run_id)
    removed.resources = provider.remove_run(provider.connect(), run_id)
    for worktree in _recorded_worktrees(lock_file(settings, run_id)):
        if Path(worktree).exists():
            source.remove_worktree(settings, Path(worktree))
            removed.worktrees.append(worktree)
    lock_file(settings, run_id).unlink(missing_ok=True)
    return removed


def _recorded_worktrees(path: Path) -> list[str]:
    try:
        record = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return []
    # "worktree": the record's shape before upgrades across releases gave a run two
    return record.get("worktrees") or ([record["worktree"]] if record.get("worktree") else [])


@dataclass
class Leftovers:
    """Runs that are not live but left something: their ids, and runs left alone with the reason."""

    dead: list[str] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)  # labelled, but never owned by a harness run here


def find_leftovers(settings: Settings) -> Leftovers:
    found = Leftovers()
    labelled = provider.labelled_run_ids(provider.connect())
    locked = {path.stem for path in runs_dir(settings).glob("*.lock")}  # none when the folder is not there
    for run_id in sorted(labelled | locked):
        if is_live(settings, run_id):
            continue
        (found.dead if run_id in locked else found.unowned).append(run_id)
    return found


def gc(settings: Settings, also: list[str] | None = None) -> tuple[list[Removed], list[str]]:
    """Remove the leftovers of every run whose owner is gone (and of the unowned runs named in
    `also`); the unowned runs left alone."""
    leftovers = find_leftovers(settings)
    wanted = set(also or [])
    removed = []
    runs_dir(settings).mkdir(parents=True, exist_ok=True)  # an unowned run gets a lock to clean under
    for run_id in leftovers.dead + [run_id for run_id in leftovers.unowned if run_id in wanted]:
        with lock_file(settings, run_id).open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # it came alive, or its guard is cleaning it up
            removed.append(clean_up(settings, run_id))
    return removed, [run_id for run_id in leftovers.unowned if run_id not in wanted]


def _guard(run_id: str, lock_path: str) -> int:
    """Wait for the harness to close the pipe; clean up the run unless it said it was done (the
    lock file's record, written before the guard started, names the worktrees)."""
    if sys.stdin.buffer.read() == DONE:
        return 0
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # free once the harness is dead
        clean_up(Settings.from_env(), run_id)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "guard":
        sys.exit(_guard(*sys.argv[2:4]))
    sys.exit("usage: python -m harness.ownership guard RUN_ID LOCK_FILE")
