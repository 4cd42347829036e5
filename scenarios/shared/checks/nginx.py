"""Kubespray's default localhost API server balancer: /etc/nginx/nginx.conf on a node.

Parsers, and checks that raise AssertionError showing the whole file when it is wrong.
Kubespray's template: `stream { upstream kube_apiserver { server ADDRESS:PORT; ... }
server { listen 127.0.0.1:PORT; proxy_pass kube_apiserver; ... } }`.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn

CONFIG = "/etc/nginx/nginx.conf"
UPSTREAM = "kube_apiserver"
LOCALHOST = ("127.0.0.1", "[::1]")


class Statement(NamedTuple):
    blocks: tuple[str, ...]  # the headers of the blocks it sits in: ("stream", "upstream kube_apiserver")
    block: int  # which block (the n-th opened in the file): tells two `server { }` apart
    words: list[str]  # the directive and its arguments


def statements(config: str) -> list[Statement]:
    """Every `directive args;` of an nginx configuration, comments left out."""
    found: list[Statement] = []
    open_blocks: list[tuple[str, int]] = []
    opened = 0
    words: list[str] = []
    for line in config.splitlines():
        for token in re.findall(r"[{};]|[^\s{};]+", line.split("#", 1)[0]):
            if token == "{":
                opened += 1
                open_blocks.append((" ".join(words), opened))
            elif token == ";":
                headers = tuple(header for header, _ in open_blocks)
                found.append(Statement(headers, open_blocks[-1][1] if open_blocks else 0, words))
            elif token == "}" and open_blocks:
                open_blocks.pop()
            if token in "{};":
                words = []
            else:
                words.append(token)
    return found


def upstream_servers(config: str) -> list[str]:
    """`ADDRESS:PORT` of each server of the API server upstream."""
    where = ("stream", f"upstream {UPSTREAM}")
    return [s.words[1] for s in statements(config) if s.blocks == where and s.words[0] == "server" and len(s.words) > 1]


def proxy_listens(config: str) -> list[str]:
    """What the stream servers that pass connections to the API server upstream listen on."""
    servers: dict[int, list[Statement]] = {}
    for statement in statements(config):
        if statement.blocks == ("stream", "server"):
            servers.setdefault(statement.block, []).append(statement)
    return [
        s.words[1]
        for server in servers.values()
        if any(s.words == ["proxy_pass", UPSTREAM] for s in server)
        for s in server
        if s.words[0] == "listen" and len(s.words) > 1
    ]


# --- checks: each one behaviour, failing with the file it read ---------------------------------


def check_one_server_per_control_plane(config: str, control_planes: list[str]) -> None:
    found = upstream_servers(config)
    if len(found) != len(control_planes):
        expected = f"expected one for each of {sorted(control_planes)}"
        _fail(f"upstream {UPSTREAM} has {len(found)} server(s) {found}, {expected}", config)


def check_servers_at_control_plane_addresses(config: str, expected: dict[str, tuple[str, int]]) -> None:
    """The upstream's servers are the control planes' addresses at their API server port."""
    found = sorted(upstream_servers(config))
    wanted = {f"{address}:{port}": name for name, (address, port) in expected.items()}
    if found != sorted(wanted):
        missing = [f"{name} ({server})" for server, name in sorted(wanted.items()) if server not in found]
        _fail(
            f"upstream {UPSTREAM} servers are {found}; missing {', '.join(missing) or 'none'}, extra "
            f"{', '.join(sorted(set(found) - set(wanted))) or 'none'}",
            config,
        )


def check_listens_on_localhost(config: str, port: int) -> None:
    """The proxy to the API servers listens on the loopback only, at the port kubelets are told to use."""
    found = proxy_listens(config)
    wanted = {f"{address}:{port}" for address in LOCALHOST}
    if not found or not set(found) <= wanted or f"127.0.0.1:{port}" not in found:
        _fail(f"the proxy to upstream {UPSTREAM} listens on {found}, expected 127.0.0.1:{port}", config)


def _fail(problem: str, config: str) -> NoReturn:
    raise AssertionError(f"{CONFIG}: {problem}\n{CONFIG} reads:\n{config}")
