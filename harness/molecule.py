"""Driving Molecule, the front door of a run's lifecycle: one call per action, timed. (Its
create and destroy call back into the harness, which starts and removes the nodes: harness.nodes.)

A scenario's Molecule configuration is Molecule's shared base config
(`.config/molecule/config.yml`) under the scenario's platforms, which the harness renders
from scenario.yml into `scenarios/<name>/molecule.yml` (not kept in git: scenario.yml is
the one source) before every run, and for all scenarios at `make setup` so that
`molecule test -s NAME` works on its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2

from harness import scenario as scenarios
from harness.clock import Stopwatch
from harness.context import RunContext
from harness.errors import HarnessError
from harness.scenario import Scenario
from harness.settings import PROJECT_ROOT, environ_without_ansible_settings

# The lifecycle as data: verify runs only when every step before it passed; the
# runner removes the nodes by their label in its finally (see runner._teardown).
# No `prepare` of its own: `molecule converge` runs prepare first (its converge_sequence,
# .config/molecule/config.yml), one Molecule start-up fewer a run (`harness bench`: the gap
# between the deploy and the next step was 5.7 s, most of it Molecule starting again).
SEQUENCE = ("create", "converge", "verify")
EXIT_TIMED_OUT = 124  # as timeout(1) says it
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BASE_CONFIG = PROJECT_ROOT / ".config" / "molecule" / "config.yml"
PLATFORMS_FILE = "molecule.yml"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("harness", "templates"),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_platforms(scenario: Scenario) -> str:
    """The scenario's molecule.yml: one platform per node, named and grouped as scenario.yml says."""
    nodes = [{"name": node.name, "groups": node.molecule_groups} for node in scenario.nodes]
    return _TEMPLATES.get_template("molecule.yml.j2").render(nodes=nodes)


def write_platforms(scenario: Scenario) -> Path:
    """Render the scenario's molecule.yml where Molecule looks for it (only if it changed)."""
    path = scenario.directory / PLATFORMS_FILE
    _write_if_changed(path, render_platforms(scenario))
    return path


def _write_if_changed(path: Path, text: str) -> bool:
    """Write the file unless it already holds the text; True if it did not."""
    if path.is_file() and path.read_text() == text:
        return False
    # Atomically: the cells of a matrix render the same file while others read it.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)
    return True


def check_platforms_current(scenario: Scenario) -> None:
    """Standalone Molecule read molecule.yml before the harness could render it: a stale file
    means nodes that scenario.yml no longer describes. Render it, and say to start again."""
    path = scenario.directory / PLATFORMS_FILE
    if _write_if_changed(path, render_platforms(scenario)):
        raise HarnessError(f"{path} did not match scenario.yml (written anew now): run the same molecule command again")


@dataclass(frozen=True)
class ActionResult:
    action: str
    seconds: float
    rc: int
    log: Path
    started: float = 0.0  # Unix time


def molecule_env(context: RunContext) -> dict[str, str]:
    env = environ_without_ansible_settings()
    bin_dir = str(Path(sys.executable).parent)  # molecule calls ansible-config from PATH
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        MOLECULE_GLOB=f"{context.scenarios_dir.name}/*/molecule.yml",
        # Molecule's own state per run, so parallel runs never share it.
        MOLECULE_EPHEMERAL_DIRECTORY=str(context.run_dir / "molecule"),
        ANSIBLE_FORCE_COLOR="0",
        PY_COLORS="0",
        **context.molecule_env(scenarios.load(context.scenarios_dir, context.scenario)),
    )
    return env


def run_action(context: RunContext, action: str, timeout: float | None = None) -> ActionResult:
    """`molecule ACTION` for the run; stopped, with exit code 124 and a line in its log, when it
    runs longer than `timeout` seconds (a step that hangs must not hang the run)."""
    context.logs_dir.mkdir(parents=True, exist_ok=True)
    log = context.logs_dir / f"molecule-{action}.log"
    molecule_bin = str(Path(sys.executable).parent / "molecule")
    argv = [molecule_bin, "--base-config", str(BASE_CONFIG), action, "-s", context.scenario]
    clock = Stopwatch()
    with log.open("w") as out:
        # Own process group: on Ctrl-C the whole tree (Molecule, its
        # ansible-playbook, Kubespray's) stops before the harness cleans up,
        # so nothing creates a container after the cleanup ran.
        process = subprocess.Popen(
            argv,
            cwd=context.scenarios_dir.parent,
            env=molecule_env(context),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            out.write(
                f"\nharness: molecule {action} ran longer than {timeout:.0f} s (HARNESS_ACTION_TIMEOUT); stopped\n"
            )
            rc = EXIT_TIMED_OUT
        except BaseException:
            _stop_group(process)
            raise
    return ActionResult(action, clock.seconds(), rc, log, clock.at)


def _stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def stop_run_processes(run_id: str) -> int:
    """Kill what is left of a run's processes: everything started with its HARNESS_RUN_ID.

    Stopping Molecule's process group is not enough: a process that left the group (an Ansible
    async job daemonizes) could create a node after the run's cleanup (seen with Molecule's
    docker driver: Ctrl-C during create left one container behind)."""
    marker = f"HARNESS_RUN_ID={run_id}".encode()
    killed = 0
    for environ in Path("/proc").glob("[0-9]*/environ"):
        pid = int(environ.parent.name)
        try:
            if pid != os.getpid() and marker in environ.read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue  # gone already, or not ours to read
    return killed


def keep_verify_junit(context: RunContext) -> Path:
    """Copy the verifier's JUnit out of Molecule's state, which destroy wipes."""
    kept = context.run_dir / "verify-junit.xml"
    written = context.run_dir / "molecule" / "verify-junit.xml"
    if written.is_file():
        shutil.copyfile(written, kept)
    return kept


def log_tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return ""
    text = _ANSI.sub("", path.read_text(errors="replace"))  # Molecule colours some lines even with PY_COLORS=0
    return "\n".join(text.splitlines()[-lines:] if lines > 0 else [])
