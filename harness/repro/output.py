"""The failure a reporter saw, read from the Ansible output pasted into the report."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass

import yaml

from harness.events import MESSAGE_FIELDS
from harness.text import first_line

# What Ansible's modules say when a command failed, whatever it failed at: the reason is elsewhere.
GENERIC_MESSAGES = ("non-zero return code", "MODULE FAILURE\nSee stdout/stderr for the exact error")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<task>.+?)\] \**\s*$")
# `fatal: [h]: FAILED! => {...}`, and a loop's `failed: [h] (item=...) => {...}` (a loop never says fatal).
_FAILED = re.compile(
    r"^(?:fatal: \[(?P<host>[^\]]+?)(?: -> [^\]]+)?\]: (?P<state>FAILED|UNREACHABLE)!"
    r"|failed: \[(?P<item_host>[^\]]+?)(?: -> [^\]]+)?\] \(item=.*?\)) => (?P<result>.*)$"
)
# The YAML result format (`result_format = yaml`, the yaml callback): `=> changed=false` and the
# rest of the result as YAML indented below it.
_YAML_HEADER = re.compile(r"^(?:(?:changed|skipped)=\w+\s*)*$")
_IGNORING = re.compile(r"^\.\.\.ignoring\s*$")
_RECAP_FAILED = re.compile(r"^(?P<host>\S+)\s*:\s*ok=\d+.*?\b(?:failed=[1-9]|unreachable=[1-9])")
_NEXT_RESULT = ("TASK [", "RUNNING HANDLER [", "fatal:", "PLAY ")
# The stable core of Ansible's undefined-variable errors: the same words on every machine.
_CORE_MESSAGES = (
    re.compile(r"'[^']+' (?:object )?has no attribute '[^']+'"),
    re.compile(r"'[^']+' is undefined"),
    re.compile(r"\{\{[^{}]*\}\}: Mandatory variable has not been overridden"),  # Kubespray's d(undef())
)


class NoReportedFailure(ValueError):
    """The output shows no failure the harness can expect; the text says what it shows instead."""


class CannotReproduceHere(ValueError):
    """The output's failure is one containers cannot show (the text says why)."""


@dataclass(frozen=True)
class ReportedFailure:
    task: str
    hosts: tuple[str, ...]  # every host with a failure under that TASK header
    message: str  # the part of Ansible's message to look for in a run's failure ('' when it said nothing)
    full_message: str
    rc: int | None = None

    @property
    def host(self) -> str:
        return self.hosts[0]


@dataclass(frozen=True)
class _Line:
    header: int  # the line of its TASK header: a task name may come again in a later play
    task: str
    host: str
    unreachable: bool
    result: str
    following: list[str]


def reported_failure(output: str) -> ReportedFailure:
    """The first non-ignored failure in the output (a task's `fatal:` or a loop item's `failed:`),
    under the TASK it belongs to, with the other hosts that failed under the same header.
    Colour codes, profile_tasks times, -v noise and retries are read past."""
    raw = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    failures = list(_failure_lines(raw))
    if not failures:
        raise NoReportedFailure(_what_it_shows([line.strip() for line in raw]))
    real = [line for line in failures if not line.unreachable]
    if not real:
        hosts = ", ".join(dict.fromkeys(line.host for line in failures))
        raise CannotReproduceHere(
            f"the run failed only because {hosts} could not be reached over SSH; the harness makes its own "
            "connections to its containers, so a connection problem of the reporter's machines does not replay"
        )
    first = real[0]
    hosts = tuple(dict.fromkeys(line.host for line in real if line.header == first.header))
    full, rc = _result(first.result, first.following)
    return ReportedFailure(task=first.task, hosts=hosts, message=core_message(full), full_message=full, rc=rc)


def _failure_lines(raw: list[str]):
    """Every failure line that Ansible did not forgive (`...ignoring`), with its task and what follows it
    (as printed: a YAML result keeps its indentation)."""
    lines = [line.strip() for line in raw]
    task, header = "", -1
    for index, line in enumerate(lines):
        if match := _TASK.match(line):
            task, header = match.group("task"), index
            continue
        match = _FAILED.match(line)
        if not match or _ignored(lines[index + 1 :]):
            continue
        if not task:
            host = match.group("host") or match.group("item_host")
            raise NoReportedFailure(
                f"the failure of {host} has no `TASK [...]` header above it; "
                "paste the output from the failing TASK line on"
            )
        yield _Line(
            header,
            task,
            match.group("host") or match.group("item_host"),
            match.group("state") == "UNREACHABLE",
            match.group("result"),
            raw[index + 1 :],
        )


def _what_it_shows(lines: list[str]) -> str:
    recap_failed = [match.group("host") for line in lines if (match := _RECAP_FAILED.match(line))]
    if recap_failed:
        return (
            f"the output shows only the PLAY RECAP (failed: {', '.join(recap_failed)}), not the failure; paste the "
            "`TASK [...]` header and the `fatal:` line of the failing task"
        )
    return (
        "it has no `fatal:` (or loop `failed:`) line under a `TASK [...]` header; paste the output of the failing run"
    )


def _ignored(following: list[str]) -> bool:
    """Ansible prints `...ignoring` after the result of a failure that ignore_errors forgives
    (after the last item, for a loop)."""
    for line in following:
        if _IGNORING.match(line):
            return True
        if line.startswith(_NEXT_RESULT):
            return False
    return False


def _result(result: str, following: list[str]) -> tuple[str, int | None]:
    """What the failed result says (msg, else stderr, module_stdout, exception, reason) and its rc:
    one JSON line, or a pretty-printed object over several lines."""
    text = result.strip()
    if _YAML_HEADER.match(text) and (data := _yaml_result(following)) is not None:
        return _said(data)
    following = [line.strip() for line in following]
    following = [line for line in following if not line.startswith("FAILED - RETRYING")]
    for extra in [[], *[following[:n] for n in range(1, min(len(following), 200) + 1)]]:
        candidate = "\n".join([text, *extra])
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return _said(data)
    match = re.search(r'"msg":\s*"((?:[^"\\]|\\.)*)"', text)
    return (json.loads(f'"{match.group(1)}"') if match else text), None


def _yaml_result(following: list[str]) -> dict | None:
    """The YAML result below a `=> changed=false` line: the lines indented under it."""
    body = []
    for line in following:
        if line and not line[:1].isspace():
            break
        body.append(line)
    try:
        data = yaml.safe_load(textwrap.dedent("\n".join(body)))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _said(data: dict) -> tuple[str, int | None]:
    said = [str(data.get(name) or "").strip() for name in (*MESSAGE_FIELDS, "reason")]
    rc = data.get("rc")
    return _telling(said), rc if isinstance(rc, int) else None


def _telling(said: list[str]) -> str:
    """The first field that says something; past Ansible's own words for "the command failed"
    when another field says how (a command's stderr)."""
    parts = [part for part in said if part]
    telling = [part for part in parts if part not in GENERIC_MESSAGES]
    return (telling or parts or [""])[0]


def core_message(message: str) -> str:
    """What must appear in a run's failure for it to be the reporter's: the undefined-variable
    phrase when there is one, else the first line, without the paths of the reporter's machine."""
    for pattern in _CORE_MESSAGES:
        match = pattern.search(message)
        if match:
            return match.group(0)
    return first_line(message).split("The error appears to be in")[0].strip()[:200]
