"""A run's network: a free /24 of the pool, nodes at the same host numbers in every run."""

from __future__ import annotations

import ipaddress

import pytest

from harness import subnets
from harness.errors import HarnessError
from harness.settings import Settings

POOL = ipaddress.IPv4Network("172.30.0.0/22")


def test_the_pools_24s_come_in_order() -> None:
    assert list(subnets.candidates(POOL, taken=[])) == [f"172.30.{n}.0/24" for n in range(4)]


def test_a_24_another_network_holds_is_skipped() -> None:
    assert list(subnets.candidates(POOL, taken=["172.30.1.0/24", "172.17.0.0/16"])) == [
        "172.30.0.0/24",
        "172.30.2.0/24",
        "172.30.3.0/24",
    ]


def test_a_larger_network_over_the_pool_leaves_nothing() -> None:
    assert list(subnets.candidates(POOL, taken=["172.30.0.0/16"])) == []


def test_saved_deploys_subnets_come_last_so_that_their_reuse_finds_them_free() -> None:
    assert list(subnets.candidates(POOL, taken=[], avoid=["172.30.0.0/24"])) == [
        "172.30.1.0/24",
        "172.30.2.0/24",
        "172.30.3.0/24",
        "172.30.0.0/24",
    ]


def test_nodes_take_fixed_hosts_and_the_engine_the_upper_half() -> None:
    assert subnets.prefix("172.30.7.0/24") == "172.30.7"
    assert [subnets.node_host(index) for index in range(3)] == [11, 12, 13]
    assert subnets.dynamic_range("172.30.7.0/24") == "172.30.7.128/25"


@pytest.mark.parametrize("pool", ["not-a-network", "172.30.0.0/25", "fd00::/64"])
def test_a_pool_that_holds_no_24_is_one_clear_error(pool: str) -> None:
    with pytest.raises(HarnessError, match="HARNESS_SUBNET_POOL"):
        Settings.from_env({"HARNESS_SUBNET_POOL": pool})


def test_reuse_is_on_unless_switched_off() -> None:
    assert Settings.from_env({}).reuse_deploys
    assert not Settings.from_env({"HARNESS_REUSE_DEPLOYS": "0"}).reuse_deploys
