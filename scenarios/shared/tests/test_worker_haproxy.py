"""A worker's localhost API server balancer, HAProxy, as Kubespray renders it (mission.md, Report 1)."""

import pytest
from checks import haproxy

pytestmark = pytest.mark.applies_when(localhost_loadbalancer="haproxy")
testinfra_hosts = ["ansible://kube_node"]


def test_backend_has_exactly_one_server_per_control_plane(host, written_file, control_planes):
    haproxy.check_one_server_per_control_plane(written_file(host, haproxy.CONFIG), list(control_planes))


def test_backend_servers_carry_control_plane_address_and_api_server_port(host, written_file, api_servers):
    haproxy.check_servers_at_control_plane_addresses(written_file(host, haproxy.CONFIG), api_servers)


def test_frontend_binds_localhost_at_the_balancer_port(host, written_file, balancer_port):
    haproxy.check_frontend_binds_localhost(written_file(host, haproxy.CONFIG), balancer_port(host))


def test_haproxy_accepts_the_config(host, written_file):
    config = written_file(host, haproxy.CONFIG)
    check = host.run("haproxy -c -f %s", haproxy.CONFIG)
    assert check.rc == 0, f"haproxy -c says:\n{check.stdout}{check.stderr}\n{haproxy.CONFIG}:\n{config}"
