"""A worker's localhost API server balancer, nginx (Kubespray's default), as Kubespray renders it."""

import pytest
from checks import nginx

pytestmark = pytest.mark.applies_when(localhost_loadbalancer="nginx")
testinfra_hosts = ["ansible://kube_node"]

# Debian's nginx loads its stream module from a file that Kubespray's nginx.conf (written for
# the nginx image, where the module is built in) does not name: load it for the check.
LOAD_STREAM = "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"


def test_upstream_has_exactly_one_server_per_control_plane(host, written_file, control_planes):
    nginx.check_one_server_per_control_plane(written_file(host, nginx.CONFIG), list(control_planes))


def test_upstream_servers_are_control_plane_addresses_at_the_api_server_port(host, written_file, api_servers):
    nginx.check_servers_at_control_plane_addresses(written_file(host, nginx.CONFIG), api_servers)


def test_proxy_listens_on_localhost_at_the_balancer_port(host, written_file, balancer_port):
    nginx.check_listens_on_localhost(written_file(host, nginx.CONFIG), balancer_port(host))


def test_nginx_accepts_the_config(host, written_file):
    config = written_file(host, nginx.CONFIG)
    check = host.run("nginx -t -c %s -g %s", nginx.CONFIG, LOAD_STREAM)
    assert check.rc == 0, f"nginx -t says:\n{check.stdout}{check.stderr}\n{nginx.CONFIG}:\n{config}"
