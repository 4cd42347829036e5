"""What a report's variables would make Ansible do on its controller, said to the user.

Inventory and extra variables are templated by Ansible on the controller: a lookup
reads files or runs commands there, and connection variables decide where tasks run.
The controller is the run's own container (harness.controller), so this scan refuses
nothing: it is no security boundary, it tells the user what the report does. Connection
variables are never passed on: the harness's own connection replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.text import one_line

# The everyday ones: where and as whom to connect. Replaced, silently.
ORDINARY_CONNECTION_VARS = {
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_ssh_host",
    "ansible_ssh_port",
    "ansible_ssh_user",
    "ansible_become",
    "ansible_become_user",
    "ansible_become_method",
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_python_interpreter",
}
_TEMPLATE = re.compile(r"{{|{%")
_CONTROLLER_SIDE = (
    (re.compile(r"\b(?:lookup|query|q)\s*\("), "a lookup, which Ansible runs on its controller"),
    (re.compile(r"__\w+__"), "reaches into Python's internals"),
    (re.compile(r"\bdelegate_to\b|\blocalhost\b|\b127\.0\.0\.1\b"), "points tasks at Ansible's controller (localhost)"),
)
LOCAL_HOST_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Finding:
    where: str  # e.g. "host km-1", "group all", "-e of command 2"
    name: str
    what: str
    value: str

    def describe(self) -> str:
        return f"{self.where}: {self.name}={one_line(self.value, 80)} ({self.what})"


def is_connection_var(name: str) -> bool:
    return name.startswith("ansible_")


def scan(where: str, variables: dict[str, Any]) -> list[Finding]:
    findings = []
    for name, value in variables.items():
        if is_connection_var(name) and name not in ORDINARY_CONNECTION_VARS:
            findings.append(Finding(where, name, "a connection override; it is never passed on", str(value)))
        for text in _strings(value):
            findings += [Finding(where, name, what, text) for what in _controller_side(text)]
    return findings


def _controller_side(text: str) -> list[str]:
    if not _TEMPLATE.search(text):
        return []
    return [what for pattern, what in _CONTROLLER_SIDE if pattern.search(text)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def without_connection_vars(variables: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in variables.items() if not is_connection_var(name)}
