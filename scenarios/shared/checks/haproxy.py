"""Kubespray's localhost API server balancer: /etc/haproxy/haproxy.cfg on a node."""

from __future__ import annotations

from typing import NamedTuple

CONFIG = "/etc/haproxy/haproxy.cfg"


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
            result.append(Server(words[1], address, int(port)))
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
