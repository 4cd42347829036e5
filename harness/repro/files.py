"""Files of the reporter's machines pasted in the report (their /etc/resolv.conf, say):
a fenced block whose caption, the line above it, names the file's absolute path and,
optionally, the hosts that hold it (none named: every host). They become the
scenario's `files:`, written into the nodes before the first step."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from harness.repro.form import BugReport, CodeBlock

if TYPE_CHECKING:  # inventory.py asks this module which of its blocks are machines' files
    from harness.repro.inventory import ReportInventory

# Sections where a reporter shows a machine's file; the inventory section's are its own files.
SECTIONS = ("repro", "anything_else", "inventory")
# An absolute path, not the tail of a relative one or of a URL.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:-])(/(?:[A-Za-z0-9_.+@-]+/)*[A-Za-z0-9_.+@-]+)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def node_file_path(block: CodeBlock) -> str | None:
    """The node file a block shows, by its caption; None for any other block (an inventory
    file's own path is Ansible's business, not a node's)."""
    match = _ABSOLUTE_PATH.search(block.caption)
    if match is None:
        return None
    path = match.group(1).rstrip(".")
    if "inventory" in path or "ansible" in path or path.endswith((".ini", ".yml", ".yaml")):
        return None
    return path


def read(report: BugReport, inventory: ReportInventory) -> list[dict[str, Any]]:
    """The scenario's `files:` entries, in the order the report shows them."""
    host_names = {host.name for host in inventory.hosts}
    files = []
    for section in SECTIONS:
        for block in report.blocks(section):
            path = node_file_path(block)
            if path is None:
                continue
            hosts = sorted({word for word in _WORD.findall(block.caption) if word in host_names})
            entry: dict[str, Any] = {"path": path, "content": _as_file(block.text)}
            if hosts:
                entry["hosts"] = hosts
            files.append(entry)
    return files


def describe(entry: dict[str, Any]) -> str:
    where = ", ".join(entry["hosts"]) if "hosts" in entry else "every node"
    return f"the report's {entry['path']} is written on {where} before the first step"


def _as_file(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
