"""/etc/hosts on a cluster node resolves the API server's domain name to the external load balancer."""

from checks import etchosts


def test_apiserver_domain_name_maps_to_the_loadbalancer(host, apiserver_domain_name, loadbalancer_address):
    content = host.file("/etc/hosts").content_string
    names = etchosts.entry_for_address(content, loadbalancer_address)
    assert apiserver_domain_name in names, (
        f"expected '{loadbalancer_address} {apiserver_domain_name}'; /etc/hosts:\n{content}"
    )
