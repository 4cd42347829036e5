"""Kubespray's inventory block in /etc/hosts."""

from __future__ import annotations

BEGIN = "# Ansible inventory hosts BEGIN"
END = "# Ansible inventory hosts END"


def inventory_block(hosts_file: str) -> list[str] | None:
    """The lines between Kubespray's markers, or None when the block is missing."""
    lines = hosts_file.splitlines()
    if BEGIN not in lines or END not in lines:
        return None
    return [line for line in lines[lines.index(BEGIN) + 1 : lines.index(END)] if line.strip()]


def entries_for(block: list[str], name: str) -> list[list[str]]:
    """Lines of the block whose names include `name`, split into words."""
    return [line.split() for line in block if name in line.split()[1:]]


def entry_for_address(hosts_file: str, address: str) -> list[str]:
    """Names given to an address anywhere in the file."""
    names: list[str] = []
    for line in hosts_file.splitlines():
        words = line.split("#")[0].split()
        if words and words[0] == address:
            names += words[1:]
    return names
