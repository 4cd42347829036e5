# Run by the run's controller (harness.hostvars), with the Ansible that Kubespray's ref pins,
# so it imports nothing from the harness: it writes what Ansible makes of the run's variables
# as JSON. Report content is templated here, inside the controller, never on the harness machine.
"""What Kubespray's variables come to for each host of a run, asked of Ansible itself.

The run's inventory (the ref's sample group_vars, the scenario's or report's group and
host vars) over the ref's own role defaults (`kubespray-defaults`), templated by
Ansible: the host checks expect the API server port and the cluster domain the run
configured, not Kubespray's usual values.

Usage: host_variables.py HOSTS_FILE WORKTREE OUTPUT_JSON NAME...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

# Kubespray renamed its defaults role (kubespray-defaults -> kubespray_defaults); both are looked for.
DEFAULTS_GLOBS = (
    "roles/kubespray-defaults/defaults/main*",
    "roles/kubespray_defaults/defaults/main*",
    "roles/kubernetes/preinstall/defaults/main*",
)


def read_host_variables(hosts_file: Path, worktree: Path, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """{host: {name: value}} for every host of the inventory; a name no layer sets is left out."""
    loader = DataLoader()
    defaults = role_defaults(loader, worktree)
    inventory = InventoryManager(loader=loader, sources=[str(hosts_file)])
    variables = VariableManager(loader=loader, inventory=inventory)
    result = {}
    for host in inventory.get_hosts("all"):
        available = {**defaults, **variables.get_vars(host=host)}
        templar = Templar(loader=loader, variables=available)
        result[host.name] = {name: value for name in names if (value := _defined(templar, available, name)) is not None}
    return result


def _defined(templar: Templar, available: dict[str, Any], name: str) -> Any:
    """The variable's value, or None when no layer sets it or it comes to undefined (Kubespray's
    `d(undef())` for a variable it wants set only in some layouts)."""
    if name not in available:
        return None
    try:
        return plain(templar.template(available[name]))
    except AnsibleError:
        return None


def role_defaults(loader: DataLoader, worktree: Path) -> dict[str, Any]:
    """The defaults of the kubespray-defaults and preinstall roles at this worktree (files or folders)."""
    files = sorted(
        file
        for pattern in DEFAULTS_GLOBS
        for found in worktree.glob(pattern)
        for file in ([found] if found.is_file() else sorted(found.glob("*.y*ml")))
    )
    merged: dict[str, Any] = {}
    for file in files:
        merged.update(_load_trusted(loader, file) or {})
    return merged


def _load_trusted(loader: DataLoader, file: Path) -> Any:
    """The ref's own files: templates in them are Kubespray's (ansible-core >= 2.19 asks to say so)."""
    try:
        return loader.load_from_file(str(file), trusted_as_template=True)
    except TypeError:  # ansible-core < 2.19 has no trust marking
        return loader.load_from_file(str(file))


def plain(value: Any) -> Any:
    """Ansible's str/dict subclasses (unsafe or tagged text, ...) as plain Python, for YAML and JSON."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    for kind in (bool, int, float, str):  # bool first: it is an int
        if isinstance(value, kind):
            return kind(value)
    return value


def main(argv: list[str]) -> int:
    hosts_file, worktree, output, *names = argv
    try:
        found = read_host_variables(Path(hosts_file), Path(worktree), tuple(names))
    except Exception as exc:
        print(f"cannot read the run's variables from {hosts_file}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    Path(output).write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
