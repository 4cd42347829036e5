"""/etc/hosts on a cluster node: Kubespray's inventory block, and what the node resolves (mission.md, Report 2).

Where the run's Kubespray writes the block (up to v2.28), a node's block lists the hosts
of the inventory of the last Kubespray run over it: a node that joined later (joins_at)
knows every cluster host, old and new; the founding nodes keep the block of the deploy.
Where it no longer does (PR 12382, v2.29.0 on), the file must be as it was before the deploy.
"""

import pytest
from checks import etchosts

testinfra_hosts = ["ansible://kube_control_plane", "ansible://kube_node"]

writes_block = pytest.mark.applies_when(inventory_block=True)
leaves_file = pytest.mark.applies_when(inventory_block=False)


def _hosts_file(host) -> str:
    return host.file(etchosts.PATH).content_string


def _names_and_addresses(host, hosts_known_to, variables_of) -> dict[str, str]:
    """Each known host under its short name and its cluster-domain name."""
    domain = variables_of(host)["dns_domain"]
    known = hosts_known_to(host)
    return {**known, **{f"{name}.{domain}": address for name, address in known.items()}}


@writes_block
def test_inventory_block_has_one_line_per_cluster_host(host, hosts_known_to):
    etchosts.check_block_lists_exactly(_hosts_file(host), list(hosts_known_to(host)))


@writes_block
def test_inventory_block_maps_each_host_to_its_address_and_names(host, hosts_known_to, variables_of):
    etchosts.check_block_entries(_hosts_file(host), hosts_known_to(host), variables_of(host)["dns_domain"])


@writes_block
def test_node_resolves_every_cluster_host_to_its_address(host, hosts_known_to, variables_of, resolve):
    expected = _names_and_addresses(host, hosts_known_to, variables_of)
    etchosts.check_resolution(_hosts_file(host), expected, resolve(host, list(expected)))


@writes_block
def test_no_line_gives_a_cluster_host_another_address(host, hosts_known_to, variables_of):
    etchosts.check_no_conflicting_lines(_hosts_file(host), _names_and_addresses(host, hosts_known_to, variables_of))


@leaves_file
def test_hosts_file_is_as_before_the_deploy(host, node_name, before_deploy):
    etchosts.check_unchanged(_hosts_file(host), before_deploy("hosts", node_name(host)))


@leaves_file
def test_no_kubespray_inventory_block_is_left(host):
    etchosts.check_no_inventory_block(_hosts_file(host))
