"""A worker's localhost API server balancer, as Kubespray renders it (mission.md, Report 1)."""

from checks import haproxy


def _config(host) -> str:
    config = host.file(haproxy.CONFIG)
    assert config.exists, f"{haproxy.CONFIG} is missing on this worker"
    return config.content_string


def test_backend_has_exactly_one_server_per_control_plane(host, control_planes):
    haproxy.check_one_server_per_control_plane(_config(host), list(control_planes))


def test_backend_servers_carry_control_plane_address_and_api_server_port(host, control_planes, variables_of):
    port = variables_of(host)["kube_apiserver_port"]
    expected = {name: (address, port) for name, address in control_planes.items()}
    haproxy.check_servers_at_control_plane_addresses(_config(host), expected)


def test_frontend_binds_localhost_at_the_balancer_port(host, variables_of):
    variables = variables_of(host)
    port = variables.get("loadbalancer_apiserver_port", variables["kube_apiserver_port"])
    haproxy.check_frontend_binds_localhost(_config(host), port)


def test_haproxy_accepts_the_config(host):
    check = host.run("haproxy -c -f %s", haproxy.CONFIG)
    assert check.rc == 0, f"haproxy -c says:\n{check.stdout}{check.stderr}\n{haproxy.CONFIG}:\n{_config(host)}"
