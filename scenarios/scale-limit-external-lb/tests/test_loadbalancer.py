"""The external load balancer node: real HAProxy in front of every control plane."""

from specs.loadbalancer import *  # noqa: F403 (the behaviours; this file names the hosts)

testinfra_hosts = ["ansible://lb"]
