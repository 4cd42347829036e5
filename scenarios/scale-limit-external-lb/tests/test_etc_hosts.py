"""/etc/hosts on every cluster node holds Kubespray's inventory block."""

from specs.apiserver_name import *  # noqa: F403
from specs.etc_hosts import *  # noqa: F403 (the behaviours; this file names the hosts)

testinfra_hosts = ["ansible://kube_control_plane", "ansible://kube_node"]
