"""What Kubespray's variables come to for each host of a run, asked of Ansible itself.

Templating a run's variables runs whatever they hold (a report's lookups among them), so
it happens in the run's controller container (harness.controller), with the ref's own
Ansible: `ansible_plugins/host_variables.py` does the work there.
"""

from __future__ import annotations

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
    """{host: {name: value}} for every host of the run's inventory; a name no layer sets is left out."""
    output = context.run_dir / "variables.json"
    output.unlink(missing_ok=True)
    inside = lambda path: controller.path_in(context, path)  # noqa: E731
    argv = ["python3", inside(SCRIPT), inside(hosts_file), inside(context.worktree), inside(output), *names]
    controller.check_run(context, argv, {}, "reading the run's variables")
    return json.loads(output.read_text())
