"""What Kubespray's variables come to for each host of a run, asked of Ansible itself.

Templating a run's variables runs whatever they hold (a report's lookups among them), so
it happens in the run's controller container (harness.controller), with the ref's own
Ansible: `ansible_plugins/host_variables.py` does the work there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness import controller
from harness.context import RunContext

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
SCRIPT = controller.HOST_PLUGINS_DIR / "host_variables.py"


def host_variables(
    context: RunContext, hosts_file: Path, names: tuple[str, ...] = CHECKED
) -> dict[str, dict[str, Any]]:
    """{host: {name: value}} for every host of the run's inventory; a name no layer sets is left out.
    Kept per inventory: prepare and verify ask of the same inventory, and a controller costs seconds."""
    output = context.run_dir / f"variables-{_inventory_key(context, hosts_file, names)}.json"
    if output.is_file():
        return json.loads(output.read_text())
    inside = lambda path: controller.path_in(context, path)  # noqa: E731
    argv = ["python3", inside(SCRIPT), inside(hosts_file), inside(context.worktree), inside(output), *names]
    controller.check_run(context, argv, {}, "reading the run's variables")
    return json.loads(output.read_text())


def _inventory_key(context: RunContext, hosts_file: Path, names: tuple[str, ...]) -> str:
    """What the answer depends on: the inventory's files (hosts, group_vars, host_vars), the
    Kubespray worktree (an upgrade across releases changes it) and the names asked for."""
    digest = hashlib.sha256("\0".join([str(context.worktree), *names]).encode())
    for path in sorted(hosts_file.parent.rglob("*")):
        if path.is_file():
            digest.update(f"\0{path.relative_to(hosts_file.parent)}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]
