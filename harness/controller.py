"""The run's controller: the admin machine where Kubespray's ansible-playbook runs.

Every Ansible run of a scenario (each Kubespray step, and the reading of the run's
variables) runs in a throwaway container of the controller image on the run's network,
as it would on an admin machine of a real cluster. It sees the run directory (inventory,
fact cache, logs, events; read-write), Kubespray's worktree (read-only) and the harness's
Ansible plugins (read-only), nothing else of this machine: what a report or Kubespray
runs on "localhost" (lookups, `delegate_to: localhost`, local plays) runs there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from harness import provider
from harness.context import RunContext
from harness.errors import HarnessError

RUN_DIR = Path("/harness/run")
PLUGINS_DIR = Path("/harness/plugins")
HOST_PLUGINS_DIR = Path(__file__).parent / "ansible_plugins"
# Scratch space of the container's own, gone with it.
LOCAL_TEMP = "/tmp/ansible-local"
SSH_CONTROL_DIR = "/tmp/cp"


@dataclass(frozen=True)
class Sandbox:
    """What a controller container of a run sees, and the network it is on."""

    image: str
    run_id: str  # its label: remove_run removes it if the harness dies
    network: str
    run_dir: Path
    worktree: Path

    @classmethod
    def of(cls, context: RunContext) -> Sandbox:
        return cls(context.controller_image, context.run_id, context.network, context.run_dir, context.worktree)

    def path_in(self, path: Path) -> str:
        """Where a file of the run directory (or of the harness's plugins) is in the controller."""
        path = Path(path)
        if path.is_relative_to(HOST_PLUGINS_DIR):
            return str(PLUGINS_DIR / path.relative_to(HOST_PLUGINS_DIR))
        if not path.is_relative_to(self.run_dir):
            raise HarnessError(f"{path} is outside the run directory: the controller cannot see it")
        return str(RUN_DIR / path.relative_to(self.run_dir))

    def mounts(self) -> list[provider.Mount]:
        return [
            provider.Mount(self.run_dir, str(RUN_DIR), read_only=False),
            # Over the run directory's copy: Kubespray's code stays as the ref has it.
            provider.Mount(self.worktree, self.path_in(self.worktree)),
            provider.Mount(HOST_PLUGINS_DIR, str(PLUGINS_DIR)),
        ]

    def run(self, argv: list[str], env: dict[str, str], output: BinaryIO) -> int:
        """Run `argv` in the worktree, in a throwaway controller container; the exit code."""
        return provider.run_in_controller(
            provider.connect(),
            self.image,
            self.run_id,
            self.network,
            argv,
            env=env,
            workdir=self.path_in(self.worktree),
            mounts=self.mounts(),
            output=output,
        )


def path_in(context: RunContext, path: Path) -> str:
    """Where a file of the run directory (or of the harness's plugins) is in the controller."""
    return Sandbox.of(context).path_in(path)


def run(context: RunContext, argv: list[str], env: dict[str, str], output: BinaryIO) -> int:
    """Run `argv` in the worktree, in a controller container of this run; the exit code."""
    return Sandbox.of(context).run(argv, env, output)


def check_run(context: RunContext, argv: list[str], env: dict[str, str], what: str) -> None:
    """Run `argv` in the controller; a non-zero exit is `what` failing, with its last line as the reason."""
    check_output(Sandbox.of(context), argv, env, what)


def check_output(sandbox: Sandbox, argv: list[str], env: dict[str, str], what: str) -> str:
    """Run `argv` in the sandbox; its output, or `what` failing with its last line as the reason."""
    buffer = io.BytesIO()
    rc = sandbox.run(argv, env, buffer)
    text = buffer.getvalue().decode(errors="replace")
    if rc != 0:
        said = [line for line in text.splitlines() if line.strip()]
        reason = said[-1] if said else f"exit {rc}"
        raise HarnessError(f"{what} failed in the controller: {reason}", log_tail=text[-3000:])
    return text
