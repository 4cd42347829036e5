"""The failure a reporter saw, read from the Ansible output pasted into the report."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from harness.events import MESSAGE_FIELDS
from harness.text import first_line

_TASK = re.compile(r"^TASK \[(?P<task>.+?)\] \**\s*$")
_FATAL = re.compile(r"^fatal: \[(?P<host>[^\]]+?)(?: -> [^\]]+)?\]: (?:FAILED|UNREACHABLE)! => (?P<result>.*)$")
_IGNORING = re.compile(r"^\.\.\.ignoring\s*$")
# The stable core of Ansible's undefined-variable errors: the same words on every machine.
_CORE_MESSAGES = (
    re.compile(r"'[^']+' (?:object )?has no attribute '[^']+'"),
    re.compile(r"'[^']+' is undefined"),
)


@dataclass(frozen=True)
class ReportedFailure:
    task: str
    hosts: tuple[str, ...]  # every host with a fatal failure under that TASK header
    message: str  # the part of Ansible's message to look for in a run's failure ('' when it said nothing)
    full_message: str
    rc: int | None = None

    @property
    def host(self) -> str:
        return self.hosts[0]


def reported_failure(output: str) -> ReportedFailure | None:
    """The first fatal, non-ignored failure in the output, under the TASK it belongs to,
    with the other hosts that failed fatally under the same header."""
    task, first, hosts = "", None, []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if match := _TASK.match(stripped):
            if first is not None:
                break
            task = match.group("task")
            continue
        match = _FATAL.match(stripped)
        if not match or not task or _ignored(lines[index + 1 :]):
            continue
        if first is None:
            first = _result(match.group("result"), lines[index + 1 :])
        if match.group("host") not in hosts:
            hosts.append(match.group("host"))
    if first is None:
        return None
    full, rc = first
    return ReportedFailure(task=task, hosts=tuple(hosts), message=core_message(full), full_message=full, rc=rc)


def _ignored(following: list[str]) -> bool:
    """Ansible prints `...ignoring` after the result of a failure that ignore_errors forgives."""
    for line in following:
        if _IGNORING.match(line.strip()):
            return True
        if line.startswith(("TASK [", "fatal:", "PLAY ", "RUNNING HANDLER")):
            return False
    return False


def _result(result: str, following: list[str]) -> tuple[str, int | None]:
    """What the failed result says (msg, else stderr, module_stdout, exception, reason) and its rc:
    one JSON line, or a pretty-printed object over several lines."""
    text = result.strip()
    for extra in [[], *[following[:n] for n in range(1, min(len(following), 200) + 1)]]:
        candidate = "\n".join([text, *extra])
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            said = (str(data.get(name) or "").strip() for name in (*MESSAGE_FIELDS, "reason"))
            rc = data.get("rc")
            return next((part for part in said if part), ""), rc if isinstance(rc, int) else None
    match = re.search(r'"msg":\s*"((?:[^"\\]|\\.)*)"', text)
    return (json.loads(f'"{match.group(1)}"') if match else text), None


def core_message(message: str) -> str:
    """What must appear in a run's failure for it to be the reporter's: the undefined-variable
    phrase when there is one, else the first line, without the paths of the reporter's machine."""
    for pattern in _CORE_MESSAGES:
        match = pattern.search(message)
        if match:
            return match.group(0)
    return first_line(message).split("The error appears to be in")[0].strip()[:200]
