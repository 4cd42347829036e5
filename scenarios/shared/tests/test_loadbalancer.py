"""The external load balancer node: real HAProxy in front of every control plane."""

import pytest
from checks import haproxy

pytestmark = pytest.mark.applies_when(external_loadbalancer=True)
testinfra_hosts = ["ansible://lb"]


def test_haproxy_is_running(host):
    assert host.service("haproxy").is_running, host.run("systemctl status haproxy").stdout


def test_haproxy_serves_every_control_plane_api_server(host, api_servers):
    state = host.check_output("echo 'show servers state kube_apiservers' | socat stdio /run/haproxy/admin.sock")
    haproxy.check_runtime_servers(state, api_servers)
