"""A cluster node resolves the API server's domain name to the external load balancer,
where the run's Kubespray writes that name into /etc/hosts (up to v2.28)."""

import pytest
from checks import etchosts

pytestmark = pytest.mark.applies_when(external_loadbalancer=True)
testinfra_hosts = ["ansible://kube_control_plane", "ansible://kube_node"]


@pytest.mark.applies_when(apiserver_name=True)
def test_apiserver_domain_name_resolves_to_the_loadbalancer(host, variables_of, loadbalancer_address, resolve):
    name = variables_of(host)["apiserver_loadbalancer_domain_name"]
    hosts_file = host.file(etchosts.PATH).content_string
    etchosts.check_resolution(hosts_file, {name: loadbalancer_address}, resolve(host, [name]))
