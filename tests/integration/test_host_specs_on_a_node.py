"""What a node resolves, asked of a real node: the bad /etc/hosts files of the unit tests
(tests/unit/test_host_specs.py) written into a node container, then `getent -s files hosts` there, the
call the /etc/hosts specs make. The unit tests model it as "the first line naming the host";
this module proves the node answers the same. Seconds: one container, no Kubespray."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from harness import images, provider

pytestmark = pytest.mark.integration

HOSTS = (Path(__file__).resolve().parents[1] / "data" / "v2.27.1" / "kw-1.hosts").read_text()
BEGIN = "# Ansible inventory hosts BEGIN"
APISERVER_NAME = "lb-apiserver.kubernetes.local"


@pytest.fixture(scope="module")
def node(docker_engine, settings):
    """A node container of the run image, doing nothing but being there (no systemd needed)."""
    run_id = f"specs-{secrets.token_hex(3)}"
    image = images.ensure_images(settings, log=lambda _: None).node
    container = docker_engine.containers.run(
        image,
        entrypoint=["sleep", "infinity"],
        detach=True,
        labels={provider.RUN_LABEL: run_id},
        name=f"kh-specs-{run_id}",
        tmpfs={"/run": ""},  # as a real node's: the engine's archive API cannot reach it
    )
    try:
        yield container
    finally:
        provider.remove_run(docker_engine, run_id)


def _getent(node, hosts_file: str, name: str) -> str | None:
    code, _ = node.exec_run(["sh", "-c", 'printf "%s" "$1" > /etc/hosts', "write", hosts_file])
    assert code == 0
    code, output = node.exec_run(["getent", "-s", "files", "hosts", name])  # as the checks ask
    return output.decode().split()[0] if code == 0 else None


@pytest.mark.parametrize(
    ("hosts_file", "name", "address"),
    [
        pytest.param(HOSTS, "km-2", "172.18.0.3", id="recorded-file"),
        pytest.param(HOSTS, "km-2.cluster.local", "172.18.0.3", id="recorded-file-fqdn"),
        pytest.param(HOSTS.replace(BEGIN, f"10.9.9.9 km-2\n{BEGIN}"), "km-2", "10.9.9.9", id="stale-line-first"),
        pytest.param(HOSTS + "10.9.9.9 km-2.cluster.local\n", "km-2.cluster.local", "172.18.0.3", id="stale-after"),
        pytest.param(
            HOSTS.replace("127.0.0.1 localhost.localdomain localhost", f"127.0.0.1 localhost {APISERVER_NAME}"),
            APISERVER_NAME,
            "127.0.0.1",
            id="localhost-line-for-the-apiserver-name",
        ),
        pytest.param(HOSTS, "KM-2", "172.18.0.3", id="names-are-case-insensitive"),
        pytest.param(HOSTS, "kw-3", None, id="unknown-name"),
    ],
)
def test_the_node_answers_with_the_first_line_naming_the_host(node, hosts_file, name, address):
    assert _getent(node, hosts_file, name) == address


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/etc/resolv.conf", id="a-file-the-engine-mounted"),
        pytest.param("/etc/kubespray-harness-test/new.conf", id="in-a-new-folder"),
    ],
)
def test_a_scenario_file_is_written_on_the_node_as_given(node, path):
    # A report's /etc/resolv.conf: its content exactly, quotes and `$` included, never run.
    content = "search cluster.internal\nnameserver 10.128.0.2 # primary, from DHCP $(reboot) 'x'\n"
    handle = provider.Node(node, "specs", "")

    handle.write_file(path, content)

    assert handle.read_file(path) == content
