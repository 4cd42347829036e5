"""The host checks (scenarios/shared/checks) against bad files: each must fail, showing the file.

Good files are the ones Kubespray wrote on kw-1 in a passing v2.27.1 run (tests/data/v2.27.1)
and the load balancer's runtime answer of a real run (tests/data/v2.27.0); each bad file is
one of those with one thing changed, the way a regression (or a stale line left on a
machine) would change it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import etchosts, haproxy, nginx  # scenarios/shared, put on sys.path by conftest.py

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
HAPROXY_CFG = (DATA / "v2.27.1" / "kw-1.haproxy.cfg").read_text()
HOSTS = (DATA / "v2.27.1" / "kw-1.hosts").read_text()
# lb-1's running HAProxy, asked `show servers state kube_apiservers` during a v2.27.0 run
# (control planes at 172.23.0.2-4 on that run's network).
LB_STATE = (DATA / "v2.27.0" / "lb-1.servers-state").read_text()
# kw-1's nginx.conf in a passing upgrade-node-based-nginx run at v2.27.1 (control planes at
# 172.20.0.2-4 on that run's network).
NGINX_CONF = (DATA / "v2.27.1" / "kw-1.nginx.conf").read_text()
NGINX_API_SERVERS = {"km-1": ("172.20.0.2", 6443), "km-2": ("172.20.0.3", 6443), "km-3": ("172.20.0.4", 6443)}
LB_SERVERS = {"km-1": ("172.23.0.2", 6443), "km-2": ("172.23.0.3", 6443), "km-3": ("172.23.0.4", 6443)}

CONTROL_PLANES = {"km-1": "172.18.0.2", "km-2": "172.18.0.3", "km-3": "172.18.0.4"}
CLUSTER = {**CONTROL_PLANES, "kw-1": "172.18.0.5", "kw-2": "172.18.0.6"}
LOADBALANCER = "172.18.0.7"
APISERVER_NAME = "lb-apiserver.kubernetes.local"
DOMAIN = "cluster.local"


def _servers_at(port: int) -> dict[str, tuple[str, int]]:
    return {name: (address, port) for name, address in CONTROL_PLANES.items()}


def _with_names(hosts: dict[str, str], domain: str = DOMAIN) -> dict[str, str]:
    return {**hosts, **{f"{name}.{domain}": address for name, address in hosts.items()}}


def _resolved(hosts_file: str, names: list[str]) -> dict[str, str | None]:
    """What a node answers with /etc/hosts first (glibc's files backend): the first line
    naming the host. tests/integration/test_host_specs.py checks that getent on a real
    node answers the same for these files."""
    return {name: next(iter(etchosts.addresses_of(hosts_file, name)), None) for name in names}


def _fails_showing(check, *args, evidence: str, says: str) -> None:
    with pytest.raises(AssertionError) as failed:
        check(*args)
    assert says in str(failed.value)
    assert evidence in str(failed.value), "the failure must show the file it read"


# --- the recorded files pass every check -----------------------------------------------------


def test_recorded_haproxy_cfg_passes_every_check() -> None:
    haproxy.check_one_server_per_control_plane(HAPROXY_CFG, list(CONTROL_PLANES))
    haproxy.check_servers_at_control_plane_addresses(HAPROXY_CFG, _servers_at(6443))
    haproxy.check_frontend_binds_localhost(HAPROXY_CFG, 6443)


def test_recorded_etc_hosts_passes_every_check() -> None:
    names = _with_names(CLUSTER)
    etchosts.check_block_lists_exactly(HOSTS, list(CLUSTER))
    etchosts.check_block_entries(HOSTS, CLUSTER, DOMAIN)
    etchosts.check_resolution(HOSTS, names, _resolved(HOSTS, list(names)))
    etchosts.check_no_conflicting_lines(HOSTS, names)
    etchosts.check_resolution(HOSTS, {APISERVER_NAME: LOADBALANCER}, _resolved(HOSTS, [APISERVER_NAME]))


# --- haproxy.cfg --------------------------------------------------------------------------------


def test_a_backend_missing_a_control_plane_fails() -> None:
    bad = HAPROXY_CFG.replace("  server km-2 172.18.0.3:6443 check check-ssl verify none\n", "")

    _fails_showing(
        haproxy.check_one_server_per_control_plane,
        bad,
        list(CONTROL_PLANES),
        evidence="server km-3 172.18.0.4:6443",
        says="servers are ['km-1', 'km-3']",
    )


def test_a_backend_listing_a_control_plane_twice_fails() -> None:
    line = "  server km-1 172.18.0.2:6443 check check-ssl verify none\n"
    bad = HAPROXY_CFG.replace(line, line + line)

    _fails_showing(
        haproxy.check_one_server_per_control_plane, bad, list(CONTROL_PLANES), evidence=line.strip(), says="km-1"
    )


def test_a_server_on_the_wrong_port_fails() -> None:
    bad = HAPROXY_CFG.replace("km-3 172.18.0.4:6443", "km-3 172.18.0.4:6444")

    _fails_showing(
        haproxy.check_servers_at_control_plane_addresses,
        bad,
        _servers_at(6443),
        evidence="km-3 172.18.0.4:6444",
        says="'km-3': ('172.18.0.4', 6444)",
    )


def test_a_server_at_another_address_fails() -> None:
    bad = HAPROXY_CFG.replace("km-2 172.18.0.3:6443", "km-2 10.0.0.3:6443")

    _fails_showing(
        haproxy.check_servers_at_control_plane_addresses,
        bad,
        _servers_at(6443),
        evidence="km-2 10.0.0.3:6443",
        says="'km-2': ('10.0.0.3', 6443)",
    )


def test_servers_are_checked_against_the_runs_api_server_port() -> None:
    # The recorded file is right for 6443; a run that set kube_apiserver_port 7443 needs 7443.
    _fails_showing(
        haproxy.check_servers_at_control_plane_addresses,
        HAPROXY_CFG,
        _servers_at(7443),
        evidence="km-1 172.18.0.2:6443",
        says="km-1 at 172.18.0.2:7443",
    )


def test_a_frontend_on_every_address_fails() -> None:
    bad = HAPROXY_CFG.replace("bind 127.0.0.1:6443", "bind 0.0.0.0:6443")

    _fails_showing(haproxy.check_frontend_binds_localhost, bad, 6443, evidence="bind 0.0.0.0:6443", says="0.0.0.0")


def test_a_frontend_with_a_second_bind_beyond_localhost_fails() -> None:
    bad = HAPROXY_CFG.replace("  bind 127.0.0.1:6443\n", "  bind 127.0.0.1:6443\n  bind 172.18.0.5:6443\n")

    _fails_showing(haproxy.check_frontend_binds_localhost, bad, 6443, evidence="bind 172.18.0.5", says="172.18.0.5")


def test_a_frontend_on_another_port_than_the_runs_fails() -> None:
    _fails_showing(
        haproxy.check_frontend_binds_localhost, HAPROXY_CFG, 8443, evidence="bind 127.0.0.1:6443", says="127.0.0.1:8443"
    )


# --- /etc/hosts -------------------------------------------------------------------------------


def test_a_stale_line_before_the_block_makes_the_node_resolve_the_wrong_address() -> None:
    bad = HOSTS.replace(etchosts.BEGIN, f"10.9.9.9 km-2\n{etchosts.BEGIN}")
    names = _with_names(CLUSTER)

    _fails_showing(
        etchosts.check_resolution,
        bad,
        names,
        _resolved(bad, list(names)),
        evidence="10.9.9.9 km-2",
        says="'km-2': '10.9.9.9'",
    )


def test_a_stale_line_after_the_block_is_a_conflicting_line() -> None:
    bad = HOSTS + "10.9.9.9 km-2.cluster.local\n"
    names = _with_names(CLUSTER)
    etchosts.check_resolution(bad, names, _resolved(bad, list(names)))  # glibc stops at the block's line

    _fails_showing(
        etchosts.check_no_conflicting_lines, bad, names, evidence="10.9.9.9 km-2.cluster.local", says="10.9.9.9"
    )


def test_a_localhost_line_for_the_apiserver_name_before_the_loadbalancers_fails() -> None:
    bad = HOSTS.replace("127.0.0.1 localhost.localdomain localhost", f"127.0.0.1 localhost {APISERVER_NAME}")

    _fails_showing(
        etchosts.check_resolution,
        bad,
        {APISERVER_NAME: LOADBALANCER},
        _resolved(bad, [APISERVER_NAME]),
        evidence=f"127.0.0.1 localhost {APISERVER_NAME}",
        says=f"'{APISERVER_NAME}': '127.0.0.1'",
    )


def test_a_block_with_a_duplicate_line_fails() -> None:
    line = "172.18.0.3 km-2.cluster.local km-2 \n"
    bad = HOSTS.replace(line, line + line)

    _fails_showing(etchosts.check_block_lists_exactly, bad, list(CLUSTER), evidence=line.strip(), says="'km-2': 2")


def test_a_block_missing_a_host_fails() -> None:
    bad = HOSTS.replace("172.18.0.6 kw-2.cluster.local kw-2 \n", "")

    _fails_showing(etchosts.check_block_lists_exactly, bad, list(CLUSTER), evidence=etchosts.BEGIN, says="'kw-2': 0")


def test_a_block_with_a_host_the_inventory_does_not_have_fails() -> None:
    bad = HOSTS.replace(etchosts.END, f"172.18.0.9 kw-9.cluster.local kw-9\n{etchosts.END}")

    _fails_showing(etchosts.check_block_lists_exactly, bad, list(CLUSTER), evidence="kw-9", says="one line for each")


def test_no_block_at_all_fails() -> None:
    bad = "\n".join(line for line in HOSTS.splitlines() if "Ansible inventory" not in line)

    _fails_showing(etchosts.check_block_lists_exactly, bad, list(CLUSTER), evidence="172.18.0.5\tkw-1", says="no '#")


def test_block_lines_are_checked_against_the_runs_cluster_domain() -> None:
    _fails_showing(
        etchosts.check_block_entries,
        HOSTS,
        CLUSTER,
        "example.org",
        evidence="km-1.cluster.local",
        says="'172.18.0.2 km-1.example.org km-1'",
    )


def test_a_block_line_with_the_wrong_address_fails() -> None:
    bad = HOSTS.replace("172.18.0.4 km-3.cluster.local", "172.18.0.40 km-3.cluster.local")

    _fails_showing(
        etchosts.check_block_entries, bad, CLUSTER, DOMAIN, evidence="172.18.0.40 km-3", says="'172.18.0.4 km-3"
    )


def test_a_name_the_node_cannot_resolve_fails() -> None:
    names = {"kw-3": "172.18.0.8"}

    _fails_showing(
        etchosts.check_resolution, HOSTS, names, _resolved(HOSTS, list(names)), evidence=etchosts.END, says="None"
    )


# --- the load balancer's running HAProxy ---------------------------------------------------------


def test_recorded_loadbalancer_state_passes() -> None:
    haproxy.check_runtime_servers(LB_STATE, LB_SERVERS)


def test_a_loadbalancer_missing_a_control_plane_fails() -> None:
    bad = "\n".join(line for line in LB_STATE.splitlines() if " km-3 " not in line)

    _fails_showing(haproxy.check_runtime_servers, bad, LB_SERVERS, evidence="km-2 172.23.0.3", says="expected")


def test_a_loadbalancer_forwarding_to_another_port_fails() -> None:
    bad = LB_STATE.replace("- 6443 -", "- 6444 -", 1)

    _fails_showing(haproxy.check_runtime_servers, bad, LB_SERVERS, evidence="6444", says="('172.23.0.2', 6444)")


def test_a_loadbalancer_without_the_backend_fails() -> None:
    _fails_showing(
        haproxy.check_runtime_servers, "Can't find backend.\n", LB_SERVERS, evidence="Can't find backend.", says="{}"
    )


# --- /etc/hosts where the ref no longer writes it (Kubespray v2.29.0 on) ----------------------


def _without_kubespray_lines(hosts_file: str) -> str:
    """The file with Kubespray's block and API server line taken out: what a ref that no longer
    writes /etc/hosts leaves of the node's own file."""
    block = etchosts.inventory_block(hosts_file) or []
    kubespray = {etchosts.BEGIN, etchosts.END, f"{LOADBALANCER} {APISERVER_NAME}", *block}
    return "".join(line for line in hosts_file.splitlines(keepends=True) if line.rstrip("\n") not in kubespray)


def test_a_file_as_it_was_before_the_deploy_passes() -> None:
    before = _without_kubespray_lines(HOSTS)

    etchosts.check_unchanged(before, before)
    etchosts.check_no_inventory_block(before)


def test_a_file_changed_since_before_the_deploy_fails_showing_the_difference() -> None:
    before = _without_kubespray_lines(HOSTS)
    bad = before + "10.9.9.9 km-2\n"

    _fails_showing(etchosts.check_unchanged, bad, before, evidence=bad, says="+10.9.9.9 km-2")


def test_a_stale_kubespray_block_left_by_an_older_release_fails() -> None:
    _fails_showing(etchosts.check_no_inventory_block, HOSTS, evidence=etchosts.BEGIN, says="inventory block is left")


def test_a_stray_block_marker_alone_fails() -> None:
    bad = _without_kubespray_lines(HOSTS) + etchosts.END + "\n"

    _fails_showing(etchosts.check_no_inventory_block, bad, evidence=etchosts.END, says="1 marker lines")


# --- nginx.conf (Kubespray's default localhost balancer) ----------------------------------------


def test_recorded_nginx_conf_passes_every_check() -> None:
    nginx.check_one_server_per_control_plane(NGINX_CONF, list(NGINX_API_SERVERS))
    nginx.check_servers_at_control_plane_addresses(NGINX_CONF, NGINX_API_SERVERS)
    nginx.check_listens_on_localhost(NGINX_CONF, 6443)


def test_an_upstream_missing_a_control_plane_fails() -> None:
    bad = NGINX_CONF.replace("    server 172.20.0.3:6443;\n", "")

    _fails_showing(
        nginx.check_one_server_per_control_plane,
        bad,
        list(NGINX_API_SERVERS),
        evidence="server 172.20.0.4:6443;",
        says="has 2 server(s)",
    )


def test_a_commented_out_upstream_server_does_not_count() -> None:
    bad = NGINX_CONF.replace("    server 172.20.0.4:6443;", "    # server 172.20.0.4:6443;")

    _fails_showing(
        nginx.check_servers_at_control_plane_addresses,
        bad,
        NGINX_API_SERVERS,
        evidence="# server 172.20.0.4:6443;",
        says="missing km-3 (172.20.0.4:6443)",
    )


def test_an_upstream_server_on_the_wrong_port_fails() -> None:
    bad = NGINX_CONF.replace("server 172.20.0.2:6443;", "server 172.20.0.2:8443;")

    _fails_showing(
        nginx.check_servers_at_control_plane_addresses,
        bad,
        NGINX_API_SERVERS,
        evidence="server 172.20.0.2:8443;",
        says="missing km-1 (172.20.0.2:6443), extra 172.20.0.2:8443",
    )


def test_a_proxy_listening_on_every_address_fails() -> None:
    bad = NGINX_CONF.replace("listen        127.0.0.1:6443;", "listen        6443;")

    _fails_showing(
        nginx.check_listens_on_localhost, bad, 6443, evidence="listen        6443;", says="listens on ['6443']"
    )


def test_a_proxy_on_another_port_than_the_runs_fails() -> None:
    _fails_showing(
        nginx.check_listens_on_localhost, NGINX_CONF, 7443, evidence="127.0.0.1:6443", says="expected 127.0.0.1:7443"
    )


def test_a_dual_stack_proxy_listens_on_both_loopbacks() -> None:
    dual = NGINX_CONF.replace(
        "listen        127.0.0.1:6443;", "listen        127.0.0.1:6443;\n    listen        [::1]:6443;"
    )

    nginx.check_listens_on_localhost(dual, 6443)
    assert nginx.proxy_listens(dual) == ["127.0.0.1:6443", "[::1]:6443"]


def test_the_http_health_server_is_not_the_api_proxy() -> None:
    """Its `listen 8081` sits in http { server { } }: not a listener of the stream proxy."""
    assert nginx.proxy_listens(NGINX_CONF) == ["127.0.0.1:6443"]
    assert nginx.upstream_servers(NGINX_CONF) == ["172.20.0.2:6443", "172.20.0.3:6443", "172.20.0.4:6443"]
