"""The addresses of a run's network: a /24 of the harness's pool, each node at a fixed host number.

Nodes get the same address in every run on the same subnet (`.11` for the scenario's first
node, `.12` for the second, ...), so a saved deploy (harness.deploys), whose fact cache and
files hold its nodes' addresses, comes back on the subnet it was made on with every address
as Kubespray left it. Docker gives other containers (the run's controller) addresses from the
upper half only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from harness.errors import HarnessError

DEFAULT_POOL = "172.30.0.0/16"
DEFAULT_NETWORK = ipaddress.IPv4Network(DEFAULT_POOL)
FIRST_NODE_HOST = 11  # .1 is the network's gateway
# What Molecule's template falls back to when it runs without the harness (`molecule test -s`).
STANDALONE_SUBNET = "172.30.250.0/24"


def parse_pool(text: str) -> ipaddress.IPv4Network:
    """The pool runs take their /24 from (HARNESS_SUBNET_POOL)."""
    try:
        pool = ipaddress.IPv4Network(text)
    except ValueError as exc:
        why = f"HARNESS_SUBNET_POOL={text!r} is not an IPv4 network"
        raise HarnessError(f"{why}: give one like {DEFAULT_POOL}") from exc
    if pool.prefixlen > 24:
        raise HarnessError(f"HARNESS_SUBNET_POOL={text!r} holds no whole /24: give one like {DEFAULT_POOL}")
    return pool


def candidates(pool: ipaddress.IPv4Network, taken: Iterable[str], avoid: Iterable[str] = ()) -> Iterator[str]:
    """The pool's /24s that overlap no network in `taken`: those not in `avoid` (saved deploys'
    subnets, kept for their reuse) first."""
    held = [ipaddress.ip_network(subnet, strict=False) for subnet in taken]
    free = [str(net) for net in pool.subnets(new_prefix=24) if not any(net.overlaps(other) for other in held)]
    reserved = set(avoid)
    yield from (subnet for subnet in free if subnet not in reserved)
    yield from (subnet for subnet in free if subnet in reserved)


def prefix(subnet: str) -> str:
    """`172.30.7` of `172.30.7.0/24`: the template adds each node's host number to it."""
    return str(ipaddress.IPv4Network(subnet).network_address).rsplit(".", 1)[0]


def dynamic_range(subnet: str) -> str:
    """The upper half of the subnet: where the engine places containers without a fixed address."""
    return str(list(ipaddress.IPv4Network(subnet).subnets(new_prefix=25))[1])


def node_host(index: int) -> int:
    """The host number of the scenario's node at `index` (0-based) on every run's subnet."""
    return FIRST_NODE_HOST + index
