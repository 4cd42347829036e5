"""Every worker's localhost API server balancer lists every control plane."""

from specs.worker_haproxy import *  # noqa: F403 (the behaviours; this file names the hosts)

testinfra_hosts = ["ansible://kube_node"]
