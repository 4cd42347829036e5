"""Kubespray's localhost API server balancer: /etc/haproxy/haproxy.cfg on a node.

Parsers, and checks that raise AssertionError showing the whole file when it is wrong.
"""

from __future__ import annotations

from typing import NamedTuple, NoReturn

CONFIG = "/etc/haproxy/haproxy.cfg"
API_FRONTEND = "kube_api_frontend"
API_BACKEND = "kube_api_backend"


class Server(NamedTuple):
    name: str
    address: str
    port: int


def section(config: str, kind: str, name: str) -> list[str]:
    """The lines of one `frontend NAME` / `backend NAME` section, stripped."""
    lines, inside = [], False
    for raw in config.splitlines():
        line = raw.strip()
        if raw and not raw[0].isspace():
            inside = line.split()[:2] == [kind, name]
            continue
        if inside and line and not line.startswith("#"):
            lines.append(line)
    return lines


def servers(config: str, backend: str) -> list[Server]:
    result = []
    for line in section(config, "backend", backend):
        words = line.split()
        if words[0] == "server" and len(words) >= 3:
            address, _, port = words[2].rpartition(":")
            result.append(Server(words[1], address, int(port) if port.isdigit() else -1))
    return result


def binds(config: str, frontend: str) -> list[str]:
    return [line.split()[1].rstrip(";") for line in section(config, "frontend", frontend) if line.startswith("bind ")]


def runtime_servers(show_servers_state: str) -> list[Server]:
    """Servers from haproxy's runtime API answer to `show servers state BACKEND`."""
    result = []
    for line in show_servers_state.splitlines():
        words = line.split()
        if len(words) > 18 and not line.startswith("#") and words[0].isdigit():
            # be_id be_name srv_id srv_name srv_addr ... srv_port is field 18
            result.append(Server(words[3], words[4], int(words[18])))
    return result


# --- checks: each one behaviour, failing with the file it read ---------------------------------


def check_one_server_per_control_plane(config: str, control_planes: list[str]) -> None:
    names = [server.name for server in servers(config, API_BACKEND)]
    if sorted(names) != sorted(control_planes):
        _fail(f"{API_BACKEND} servers are {names}, expected one for each of {sorted(control_planes)}", config)


def check_servers_at_control_plane_addresses(config: str, expected: dict[str, tuple[str, int]]) -> None:
    """Each control plane's server line points at its address and its API server port."""
    found = {server.name: (server.address, server.port) for server in servers(config, API_BACKEND)}
    wrong = {name: found.get(name) for name, want in expected.items() if found.get(name) != want}
    if wrong:
        expected_text = ", ".join(f"{name} at {address}:{port}" for name, (address, port) in sorted(expected.items()))
        _fail(f"{API_BACKEND} servers {wrong} are not as expected ({expected_text})", config)


def check_frontend_binds_localhost(config: str, port: int) -> None:
    """The API frontend listens on 127.0.0.1 only, at the port the node's kubelet is told to use."""
    found = binds(config, API_FRONTEND)
    if not found or any(bind != f"127.0.0.1:{port}" for bind in found):
        _fail(f"{API_FRONTEND} binds {found}, expected exactly 127.0.0.1:{port}", config)


def check_runtime_servers(state: str, expected: dict[str, tuple[str, int]]) -> None:
    """A running HAProxy's answer to `show servers state BACKEND` lists exactly these servers."""
    found = {server.name: (server.address, server.port) for server in runtime_servers(state)}
    if found != expected:
        raise AssertionError(f"haproxy's runtime servers are {found}, expected {expected}; its answer:\n{state}")


def _fail(problem: str, config: str) -> NoReturn:
    raise AssertionError(f"{CONFIG}: {problem}\n{CONFIG} reads:\n{config}")
