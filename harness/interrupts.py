"""How the harness ends on a signal: Ctrl-C (SIGINT), SIGTERM (a CI job cancelled, `timeout`,
`kill`) and SIGHUP (the terminal gone) all stop the run the same way.

The first signal raises `Interrupted` in the main thread, so every run's `finally` removes its
nodes, network and worktree, as for Ctrl-C; the harness then exits 128 + the signal's number
(130, 143, 129). Child harness processes (a matrix's cells, a corpus's replays, a bisection's
probes) run in process groups of their own and get the same signal, so each cleans up its own
run. Further signals during that cleanup are reported and ignored: a second Ctrl-C must not leave
half a run behind. (SIGKILL cannot be caught: the run's guard process cleans up then; see
harness.ownership.)
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: a signal for this process when its parent ends (Linux)
WITH_PARENT = "HARNESS_ENDS_WITH_PARENT"  # set for child harness processes
_children: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stopping = threading.Event()


class Interrupted(KeyboardInterrupt):
    """A signal ended the run; a KeyboardInterrupt, so everything that cleans up on Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def install() -> None:
    """Handle the signals that end a run. One a shell told this process to ignore (`nohup`, a
    background job's SIGINT) stays ignored. A child harness process (see `spawn`) also ends,
    with SIGTERM, when the process that started it dies."""
    for signum in HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _first_signal)
    if os.environ.get(WITH_PARENT) == "1":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before that took hold
            raise Interrupted(signal.SIGTERM)


def _first_signal(signum: int, _frame: Any) -> None:
    _stopping.set()
    for handled in HANDLED:
        if signal.getsignal(handled) is not signal.SIG_IGN:
            signal.signal(handled, _during_cleanup)
    forward(signum)
    raise Interrupted(signum)


def _during_cleanup(signum: int, _frame: Any) -> None:
    os.write(2, f"{signal.Signals(signum).name}: still cleaning up the run; wait for it\n".encode())


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start a child harness process (or a tool that starts them) in a process group of its own,
    which gets the harness's signal: it cleans up its own run. It also gets SIGTERM if this
    process dies without a word (SIGKILL). Refused once the harness is stopping, so no new run
    starts after the cleanup began."""
    with _lock:
        if _stopping.is_set():
            raise Interrupted(signal.SIGTERM)
        env = {**kwargs.pop("env", os.environ), WITH_PARENT: "1"}
        process = subprocess.Popen(argv, start_new_session=True, env=env, **kwargs)
        _children.add(process)
    return process


def wait(process: subprocess.Popen) -> int:
    """The child's exit code, once it ended; it leaves the registry."""
    try:
        return process.wait()
    finally:
        with _lock:
            _children.discard(process)


def forward(signum: int) -> None:
    with _lock:
        children = list(_children)
    for process in children:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            continue
