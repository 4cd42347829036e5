"""A worker's localhost API server balancer, as Kubespray renders it (mission.md, Report 1)."""

from checks import haproxy


def _config(host) -> str:
    config = host.file(haproxy.CONFIG)
    assert config.exists, f"{haproxy.CONFIG} is missing on this worker"
    return config.content_string


def test_backend_has_exactly_one_server_per_control_plane(host, control_planes):
    config = _config(host)
    names = sorted(server.name for server in haproxy.servers(config, "kube_api_backend"))
    assert names == sorted(control_planes), f"kube_api_backend servers {names}; haproxy.cfg:\n{config}"


def test_backend_servers_carry_control_plane_address_and_port_6443(host, control_planes):
    config = _config(host)
    servers = {server.name: (server.address, server.port) for server in haproxy.servers(config, "kube_api_backend")}
    expected = {name: (address, 6443) for name, address in control_planes.items()}
    assert servers == expected, f"haproxy.cfg:\n{config}"


def test_frontend_binds_localhost(host):
    config = _config(host)
    binds = haproxy.binds(config, "kube_api_frontend")
    assert binds and all(bind.startswith("127.0.0.1:") for bind in binds), f"binds {binds}; haproxy.cfg:\n{config}"


def test_haproxy_accepts_the_config(host):
    check = host.run("haproxy -c -f %s", haproxy.CONFIG)
    assert check.rc == 0, f"haproxy -c says:\n{check.stdout}{check.stderr}\nhaproxy.cfg:\n{_config(host)}"
