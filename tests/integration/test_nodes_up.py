"""`harness nodes up` and `down`, as Molecule's create and destroy call them, on the real engine:
the nodes a run gets (flags, network, address, image) and nothing left after. Seconds."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest
from cli_helpers import HARNESS, leftovers

from harness import images, provider

pytestmark = pytest.mark.integration

SUBNET = "172.30.248.0/24"  # beside the pool's first /24s and the standalone one


@pytest.fixture(scope="module")
def started(docker_engine, settings):
    images.ensure_images(settings, log=lambda _: None)
    run_id = f"nodes-{secrets.token_hex(3)}"
    env = {**os.environ, "HARNESS_RUN_ID": run_id, "HARNESS_SUBNET": SUBNET, "HARNESS_NETWORK_INTERNAL": "true"}
    up = subprocess.run(
        [*HARNESS, "nodes", "up", "--scenario", "upgrade-node-based"], env=env, capture_output=True, text=True
    )
    selector = {"label": f"{provider.RUN_LABEL}={run_id}"}
    containers = {c.name: c for c in docker_engine.containers.list(filters=selector)}
    try:
        yield run_id, up, containers
    finally:
        subprocess.run([*HARNESS, "nodes", "down"], env=env, capture_output=True, text=True, check=False)


def test_up_starts_every_node_of_the_scenario_and_says_how_to_reach_it(started):
    run_id, up, containers = started
    assert up.returncode == 0, up.stderr
    assert sorted(containers) == sorted(f"{n}-{run_id}" for n in ("km-1", "km-2", "km-3", "kw-1", "kw-2", "lb-1"))
    assert '"connection": "community.docker.docker"' in up.stdout, up.stdout


def test_nodes_run_systemd_unprivileged_with_only_sys_admin_added(started):
    _, _, containers = started
    for container in containers.values():
        host = container.attrs["HostConfig"]
        assert host["Privileged"] is False and host["CapAdd"] == ["SYS_ADMIN"], host
        assert host["SecurityOpt"] is None  # the engine's default seccomp profile
        assert host["CgroupnsMode"] == "private" and not host["Binds"], host
        assert set(host["Tmpfs"]) == {"/run", "/run/lock"}, host["Tmpfs"]
        assert container.attrs["Config"]["Cmd"] == ["/lib/systemd/systemd"]


def test_each_node_sits_only_on_the_runs_internal_network_at_its_fixed_address(started, docker_engine):
    run_id, _, containers = started
    network = docker_engine.networks.get(f"kh-{run_id}")
    assert network.attrs["Internal"] is True
    km_1 = containers[f"km-1-{run_id}"].attrs["NetworkSettings"]["Networks"]
    assert list(km_1) == [f"kh-{run_id}"] and km_1[f"kh-{run_id}"]["IPAddress"] == "172.30.248.11", km_1


def test_the_load_balancer_boots_the_lb_image_and_the_others_the_node_image(started, settings, docker_engine):
    run_id, _, containers = started
    built = images.ensure_images(settings, log=lambda _: None)
    assert containers[f"lb-1-{run_id}"].image.id == docker_engine.images.get(built.lb).id
    assert containers[f"kw-1-{run_id}"].image.id == docker_engine.images.get(built.node).id


def test_down_removes_nodes_and_network(started, docker_engine):
    run_id, _, _ = started
    env = {**os.environ, "HARNESS_RUN_ID": run_id}
    down = subprocess.run([*HARNESS, "nodes", "down"], env=env, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert leftovers(docker_engine, run_id) == []
