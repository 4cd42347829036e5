"""The reporter's `ansible-playbook` commands, read into steps the harness can run.

Only what shapes the run is kept: the playbook, `--limit`, `-e`, `--tags` and
`--skip-tags`. The inventory, the user, become and connection options are the
harness's own; they are dropped, and the notes say so.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ansible.parsing.splitter import parse_kv

from harness.errors import HarnessError
from harness.repro.form import yaml_mapping

_INVENTORY_OPTIONS = {"-i", "--inventory", "--inventory-file"}  # always there, always replaced: no note
_DROPPED_WITH_VALUE = {
    "-u": "the harness connects as root",
    "--user": "the harness connects as root",
    "--become-user": "the harness becomes root",
    "--become-method": "the harness becomes root with sudo",
    "-c": "the connection is the harness's",
    "--connection": "the connection is the harness's",
    "--private-key": "the harness uses its own key",
    "--key-file": "the harness uses its own key",
    "--ssh-common-args": "the connection is the harness's",
    "--ssh-extra-args": "the connection is the harness's",
    "--scp-extra-args": "the connection is the harness's",
    "--sftp-extra-args": "the connection is the harness's",
    "-f": "forks are the harness's",
    "--forks": "forks are the harness's",
    "-T": "timeouts are the harness's",
    "--timeout": "timeouts are the harness's",
    "--vault-password-file": "no vault is available here",
    "--vault-id": "no vault is available here",
    "-M": "no module path of the reporter's machine",
    "--module-path": "no module path of the reporter's machine",
}
_DROPPED_FLAGS = {"-b", "--become", "-K", "--ask-become-pass", "-k", "--ask-pass", "--diff", "-D", "--flush-cache"}
_VERBOSE = re.compile(r"^-v+$")
_WITH_VALUE = {"-l", "--limit", "-e", "--extra-vars", "-t", "--tags", "--skip-tags"}


@dataclass(frozen=True)
class Command:
    playbook: str
    limit: str | None = None
    extra_vars: dict[str, object] = field(default_factory=dict)
    tags: list[str] | None = None
    skip_tags: list[str] | None = None
    text: str = ""  # as the reporter wrote it

    @property
    def is_scale(self) -> bool:
        return PurePosixPath(self.playbook).name == "scale.yml"


@dataclass
class Commands:
    commands: list[Command]
    notes: list[str] = field(default_factory=list)


def command_lines(text: str) -> list[str]:
    """`ansible-playbook ...` lines, with `\\` continuations joined and shell prompts removed."""
    joined = re.sub(r"\\\s*\n\s*", " ", text)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"^\s*(?:[$#>]\s+|\S*[$#]\s+)", "", line).strip()
        match = re.search(r"(?:^|\s|/)ansible-playbook\s", line + " ")
        if match:
            lines.append("ansible-playbook " + line[match.end() :].strip())
    return lines


def parse(line: str, where: str) -> tuple[Command, list[str]]:
    """One `ansible-playbook` line -> the Command it runs, and notes on what was dropped."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise HarnessError(f"{where}: cannot read {line!r} as a shell command ({exc})") from exc
    words = words[1:] if words and words[0].endswith("ansible-playbook") else words
    limit, tags, skip_tags, playbooks, notes = None, None, None, [], []
    extra_vars: dict[str, object] = {}
    index = 0
    while index < len(words):
        word, value, used = _option(words, index)
        index += used
        if word in ("-l", "--limit"):
            limit = value
        elif word in ("-e", "--extra-vars"):
            extra_vars.update(_extra_vars(value, where))
        elif word in ("-t", "--tags"):
            tags = [*(tags or []), *value.split(",")]
        elif word == "--skip-tags":
            skip_tags = [*(skip_tags or []), *value.split(",")]
        elif word in _INVENTORY_OPTIONS:
            continue
        elif word in _DROPPED_WITH_VALUE:
            notes.append(f"dropped {word} {value}: {_DROPPED_WITH_VALUE[word]}")
        elif word.startswith("-") and not (word in _DROPPED_FLAGS or _VERBOSE.match(word)):
            notes.append(f"ignored {word}: not an option the harness replays")
        elif not word.startswith("-"):
            playbooks.append(word)
    if len(playbooks) != 1:
        raise HarnessError(f"{where}: {line!r} should name one playbook, it names {len(playbooks) or 'none'}")
    command = Command(_relative(playbooks[0]), limit, extra_vars, tags, skip_tags, line)
    return command, notes


def _option(words: list[str], index: int) -> tuple[str, str, int]:
    """The option at `index`, its value, and how many words they take."""
    word = words[index]
    if word.startswith("--") and "=" in word:
        name, value = word.split("=", 1)
        return name, value, 1
    if word in _WITH_VALUE or word in _DROPPED_WITH_VALUE or word in _INVENTORY_OPTIONS:
        return word, words[index + 1] if index + 1 < len(words) else "", 2
    return word, "", 1


def _extra_vars(value: str, where: str) -> dict[str, object]:
    value = value.strip()
    if value.startswith("@"):
        raise HarnessError(
            f"{where}: -e {value} reads a file of the reporter's machine; paste its variables into the "
            "report's inventory (group_vars) or give them with -e key=value"
        )
    if value.startswith(("{", "[")):
        return yaml_mapping(value, f"{where}: -e {value!r}", "a mapping of variables")
    return {key: item for key, item in parse_kv(value).items() if key != "_raw_params"}


def is_kubespray_playbook(playbook: str) -> bool:
    """One of the playbooks Kubespray documents: top level (cluster.yml, ...) or playbooks/*.yml;
    not contrib/, scripts/ or tests/."""
    parts = PurePosixPath(playbook).parts
    return len(parts) == 1 or (len(parts) == 2 and parts[0] == "playbooks")


def _relative(playbook: str) -> str:
    """Kubespray's playbooks by their path in the repository, wherever the reporter's clone was."""
    path = PurePosixPath(playbook)
    if not path.is_absolute() and ".." not in path.parts:
        return str(path)
    parts = path.parts
    for anchor in ("playbooks", "extra_playbooks", "scripts", "contrib"):
        if anchor in parts:
            return str(PurePosixPath(*parts[parts.index(anchor) :]))
    return path.name


def from_report(text: str, steps: list[str], where: str) -> Commands:
    """The report's commands, or the `--step` ones when given (they win, and the notes say so)."""
    if steps:
        parsed = [parse(f"ansible-playbook {step}", f"--step {step!r}") for step in steps]
        notes = [note for _, step_notes in parsed for note in step_notes]
        if command_lines(text):
            notes.insert(0, "the report's ansible-playbook lines are replaced by --step")
        else:
            notes.insert(0, "the report gives no ansible-playbook line; the commands are those of --step")
        return Commands([command for command, _ in parsed], notes)
    lines = command_lines(text)
    if not lines:
        said = text.strip().splitlines()[0][:120] if text.strip() else "nothing"
        raise HarnessError(
            f"{where} holds no ansible-playbook line (it says: {said!r}); give the commands with "
            '--step "PLAYBOOK [--limit X]", once per command, in order'
        )
    parsed = [parse(line, where) for line in lines]
    return Commands([command for command, _ in parsed], [note for _, notes in parsed for note in notes])
