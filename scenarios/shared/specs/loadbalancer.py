"""The external load balancer node lb-1: real HAProxy in front of every control plane."""

from checks import haproxy


def test_haproxy_is_running(host):
    assert host.service("haproxy").is_running, host.run("systemctl status haproxy").stdout


def test_haproxy_serves_every_control_plane_api_server(host, control_planes, run_variables):
    state = host.check_output("echo 'show servers state kube_apiservers' | socat stdio /run/haproxy/admin.sock")
    expected = {name: (address, run_variables[name]["kube_apiserver_port"]) for name, address in control_planes.items()}
    haproxy.check_runtime_servers(state, expected)
