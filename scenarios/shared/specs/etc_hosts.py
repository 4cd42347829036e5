"""/etc/hosts on a cluster node holds Kubespray's inventory block (mission.md, Report 2).

A node's block lists the hosts of the inventory of the last Kubespray run over
it: a node that joined later (joins_at) knows every cluster host, old and new;
the founding nodes keep the block of the deploy.
"""

from checks import etchosts


def _block(host) -> tuple[str, list[str]]:
    content = host.file("/etc/hosts").content_string
    block = etchosts.inventory_block(content)
    assert block is not None, f"no '{etchosts.BEGIN}' ... '{etchosts.END}' block in /etc/hosts:\n{content}"
    return content, block


def test_inventory_block_has_one_line_per_cluster_host(host, hosts_known_to):
    content, block = _block(host)
    expected = hosts_known_to(host)
    counts = {name: len(etchosts.entries_for(block, name)) for name in expected}
    assert all(count == 1 for count in counts.values()), f"lines per host {counts}; /etc/hosts:\n{content}"
    assert len(block) == len(expected), f"block should list exactly {sorted(expected)}; /etc/hosts:\n{content}"


def test_inventory_block_maps_each_host_to_its_address_and_names(host, hosts_known_to):
    content, block = _block(host)
    for name, address in hosts_known_to(host).items():
        entry = etchosts.entries_for(block, name)
        assert entry and entry[0][0] == address and f"{name}.cluster.local" in entry[0], (
            f"{name} should be '{address} {name}.cluster.local {name}'; /etc/hosts:\n{content}"
        )
