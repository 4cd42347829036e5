"""/etc/hosts on every cluster node holds Kubespray's inventory block."""

from checks import etchosts

testinfra_hosts = ["ansible://kube_control_plane", "ansible://kube_node"]


def _block(host) -> tuple[str, list[str]]:
    content = host.file("/etc/hosts").content_string
    block = etchosts.inventory_block(content)
    assert block is not None, f"no '{etchosts.BEGIN}' ... '{etchosts.END}' block in /etc/hosts:\n{content}"
    return content, block


def test_inventory_block_has_one_line_per_cluster_host(host, cluster_nodes):
    content, block = _block(host)
    counts = {name: len(etchosts.entries_for(block, name)) for name in cluster_nodes}
    assert all(count == 1 for count in counts.values()), f"lines per host {counts}; /etc/hosts:\n{content}"


def test_inventory_block_maps_each_host_to_its_address_and_names(host, cluster_nodes):
    content, block = _block(host)
    for name, address in cluster_nodes.items():
        entry = etchosts.entries_for(block, name)
        assert entry and entry[0][0] == address and f"{name}.cluster.local" in entry[0], (
            f"{name} should be '{address} {name}.cluster.local {name}'; /etc/hosts:\n{content}"
        )
