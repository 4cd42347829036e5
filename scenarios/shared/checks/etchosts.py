"""/etc/hosts on a node: Kubespray's inventory block, and what the node resolves.

Parsers, and checks that raise AssertionError showing the whole file when it is wrong.
"""

from __future__ import annotations

import difflib
from typing import NoReturn

BEGIN = "# Ansible inventory hosts BEGIN"
END = "# Ansible inventory hosts END"
PATH = "/etc/hosts"


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


def addresses_of(hosts_file: str, name: str) -> list[str]:
    """Every address any line of the file gives `name`, in file order (names are case-insensitive)."""
    found = []
    for line in hosts_file.splitlines():
        words = line.split("#")[0].split()
        if len(words) > 1 and name.lower() in (word.lower() for word in words[1:]):
            found.append(words[0])
    return found


# --- checks: each one behaviour, failing with the file it read ---------------------------------


def check_block_lists_exactly(hosts_file: str, names: list[str]) -> None:
    """Kubespray's block holds one line for each of these hosts and no other line."""
    block = inventory_block(hosts_file)
    if block is None:
        _fail(f"no '{BEGIN}' ... '{END}' block", hosts_file)
    counts = {name: len(entries_for(block, name)) for name in names}
    if any(count != 1 for count in counts.values()) or len(block) != len(names):
        _fail(f"the block should hold one line for each of {sorted(names)}; lines per host: {counts}", hosts_file)


def check_block_entries(hosts_file: str, expected: dict[str, str], domain: str) -> None:
    """Each host's block line is `<address> <name>.<domain> <name>`."""
    block = inventory_block(hosts_file) or []
    wrong = [
        name
        for name, address in expected.items()
        if [address, f"{name}.{domain}", name] not in entries_for(block, name)
    ]
    if wrong:
        want = "; ".join(f"'{expected[name]} {name}.{domain} {name}'" for name in wrong)
        _fail(f"block lines for {', '.join(wrong)} should be {want}", hosts_file)


def check_resolution(hosts_file: str, expected: dict[str, str], resolved: dict[str, str | None]) -> None:
    """What the node resolves from /etc/hosts (`getent -s files hosts NAME`) is the expected address of each name."""
    wrong = {name: resolved.get(name) for name, address in expected.items() if resolved.get(name) != address}
    if wrong:
        want = ", ".join(f"{name} -> {expected[name]}" for name in wrong)
        _fail(f"the node resolves {wrong}, expected {want}", hosts_file)


def check_no_conflicting_lines(hosts_file: str, expected: dict[str, str]) -> None:
    """No line anywhere in the file gives one of these names another address (a resolver
    that reads every line, as Go's does, would try it)."""
    conflicts = {name: addresses_of(hosts_file, name) for name in expected}
    conflicts = {name: found for name, found in conflicts.items() if set(found) - {expected[name]}}
    if conflicts:
        want = ", ".join(f"{name} -> {expected[name]}" for name in conflicts)
        _fail(f"lines give other addresses: {conflicts}, expected only {want}", hosts_file)


def check_unchanged(hosts_file: str, before: str) -> None:
    """The file is byte for byte what it was before Kubespray's first run."""
    if hosts_file != before:
        diff = difflib.unified_diff(
            before.splitlines(keepends=True), hosts_file.splitlines(keepends=True), "before the deploy", "now"
        )
        _fail(f"the file changed since before the deploy:\n{''.join(diff)}", hosts_file)


def check_no_inventory_block(hosts_file: str) -> None:
    """No Kubespray inventory block (nor a stray marker of one) is left in the file."""
    markers = [line for line in hosts_file.splitlines() if line.strip() in (BEGIN, END)]
    if markers:
        _fail(f"a Kubespray inventory block is left ({len(markers)} marker lines)", hosts_file)


def _fail(problem: str, hosts_file: str) -> NoReturn:
    raise AssertionError(f"{PATH}: {problem}\n{PATH} reads:\n{hosts_file}")
