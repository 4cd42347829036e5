"""What Kubespray's variables come to for each host of a run, asked of Ansible itself.

The run's inventory (the ref's sample group_vars, the scenario's or report's group and
host vars) over the ref's own role defaults (`kubespray-defaults`), templated by
Ansible: the host checks expect the API server port and the cluster domain the run
configured, not Kubespray's usual values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

from harness.errors import HarnessError

# The variables the host checks read.
CHECKED = (
    "kube_apiserver_port",
    "loadbalancer_apiserver_port",
    "dns_domain",
    "apiserver_loadbalancer_domain_name",
    "loadbalancer_apiserver",
    "loadbalancer_apiserver_localhost",  # which localhost balancer checks apply (harness.applicability)
    "loadbalancer_apiserver_type",
    "populate_inventory_to_hosts_file",  # preinstall's, on refs that still write /etc/hosts
    "populate_loadbalancer_apiserver_to_hosts_file",
)
# Kubespray renamed its defaults role (kubespray-defaults -> kubespray_defaults); both are looked for.
DEFAULTS_GLOBS = (
    "roles/kubespray-defaults/defaults/main*",
    "roles/kubespray_defaults/defaults/main*",
    "roles/kubernetes/preinstall/defaults/main*",
)


def host_variables(hosts_file: Path, worktree: Path, names: tuple[str, ...] = CHECKED) -> dict[str, dict[str, Any]]:
    """{host: {name: value}} for every host of the inventory; a name no layer sets is left out."""
    loader = DataLoader()
    defaults = role_defaults(loader, worktree)
    try:
        inventory = InventoryManager(loader=loader, sources=[str(hosts_file)])
        variables = VariableManager(loader=loader, inventory=inventory)
        result = {}
        for host in inventory.get_hosts("all"):
            available = {**defaults, **variables.get_vars(host=host)}
            templar = Templar(loader=loader, variables=available)
            result[host.name] = {name: plain(templar.template(available[name])) for name in names if name in available}
    except AnsibleError as exc:
        raise HarnessError(f"cannot read the run's variables from {hosts_file}: {str(exc).splitlines()[0]}") from exc
    return result


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
        merged.update(loader.load_from_file(str(file), trusted_as_template=True) or {})  # the ref's own files
    return merged


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
