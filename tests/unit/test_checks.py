"""Host-check parsers (scenarios/shared/checks) on files Kubespray wrote on worker kw-1, and read_junit.

tests/data/v2.27.1/kw-1.haproxy.cfg and kw-1.hosts were copied from kw-1 after
the passing v2.27.1 run: control planes km-1..3 at 172.18.0.2-4, workers kw-1
at 172.18.0.5 and kw-2 at 172.18.0.6, load balancer lb-1 at 172.18.0.7.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checks import etchosts, haproxy  # scenarios/shared, put on sys.path by conftest.py

from harness.checks import read_junit

RECORDED = Path(__file__).resolve().parents[2] / "tests" / "data" / "v2.27.1"
HAPROXY_CFG = (RECORDED / "kw-1.haproxy.cfg").read_text()
HOSTS = (RECORDED / "kw-1.hosts").read_text()

CLUSTER = {
    "km-1": "172.18.0.2",
    "km-2": "172.18.0.3",
    "km-3": "172.18.0.4",
    "kw-1": "172.18.0.5",
    "kw-2": "172.18.0.6",
}


# --- haproxy ----------------------------------------------------------------------------------


def test_haproxy_servers_are_the_three_control_planes() -> None:
    assert haproxy.servers(HAPROXY_CFG, "kube_api_backend") == [
        haproxy.Server("km-1", "172.18.0.2", 6443),
        haproxy.Server("km-2", "172.18.0.3", 6443),
        haproxy.Server("km-3", "172.18.0.4", 6443),
    ]


def test_haproxy_api_frontend_binds_localhost_6443() -> None:
    assert haproxy.binds(HAPROXY_CFG, "kube_api_frontend") == ["127.0.0.1:6443"]


def test_haproxy_healthz_frontend_binds_all_addresses() -> None:
    assert haproxy.binds(HAPROXY_CFG, "healthz") == ["0.0.0.0:8081"]


@pytest.mark.parametrize(
    ("kind", "name"),
    [("backend", "no_such_backend"), ("frontend", "kube_api_backend"), ("backend", "kube_api_frontend")],
)
def test_haproxy_section_of_an_absent_section_is_empty(kind: str, name: str) -> None:
    assert haproxy.section(HAPROXY_CFG, kind, name) == []


def test_haproxy_section_lines_are_stripped_and_stop_at_the_next_section() -> None:
    assert haproxy.section(HAPROXY_CFG, "frontend", "kube_api_frontend") == [
        "bind 127.0.0.1:6443",
        "mode tcp",
        "option tcplog",
        "default_backend kube_api_backend",
    ]


def test_haproxy_servers_of_a_backend_without_servers() -> None:
    assert haproxy.servers(HAPROXY_CFG, "no_such_backend") == []


# --- /etc/hosts -------------------------------------------------------------------------------


def test_inventory_block_has_one_line_per_cluster_node() -> None:
    block = etchosts.inventory_block(HOSTS)

    assert block is not None
    assert len(block) == 5


@pytest.mark.parametrize(("name", "address"), sorted(CLUSTER.items()))
def test_entries_for_finds_one_line_per_host(name: str, address: str) -> None:
    block = etchosts.inventory_block(HOSTS)
    assert block is not None

    assert etchosts.entries_for(block, name) == [[address, f"{name}.cluster.local", name]]


def test_entries_for_does_not_match_the_loadbalancer() -> None:
    block = etchosts.inventory_block(HOSTS)
    assert block is not None

    assert etchosts.entries_for(block, "lb-1") == []
    assert etchosts.entries_for(block, "lb-apiserver.kubernetes.local") == []


def test_entries_for_matches_names_not_addresses() -> None:
    block = etchosts.inventory_block(HOSTS)
    assert block is not None

    assert etchosts.entries_for(block, "172.18.0.2") == []


@pytest.mark.parametrize(
    "hosts_file",
    [
        pytest.param("127.0.0.1 localhost\n172.18.0.5\tkw-1\n", id="no-markers"),
        pytest.param(HOSTS.replace(etchosts.END, ""), id="no-end-marker"),
        pytest.param(HOSTS.replace(etchosts.BEGIN, ""), id="no-begin-marker"),
        pytest.param("", id="empty"),
    ],
)
def test_inventory_block_is_none_without_markers(hosts_file: str) -> None:
    assert etchosts.inventory_block(hosts_file) is None


def test_entry_for_address_finds_the_apiserver_name_of_the_loadbalancer() -> None:
    assert etchosts.entry_for_address(HOSTS, "172.18.0.7") == ["lb-apiserver.kubernetes.local"]


def test_entry_for_address_collects_names_from_every_line() -> None:
    # kw-1's own line (before the block, tab-separated) and its inventory line.
    assert etchosts.entry_for_address(HOSTS, "172.18.0.5") == ["kw-1", "kw-1.cluster.local", "kw-1"]


def test_entry_for_address_of_an_unknown_address_is_empty() -> None:
    assert etchosts.entry_for_address(HOSTS, "172.18.0.99") == []


def test_entry_for_address_ignores_comments() -> None:
    assert etchosts.entry_for_address("# 172.18.0.7 old-name\n172.18.0.7 new-name # was old\n", "172.18.0.7") == [
        "new-name"
    ]


# --- harness.checks.read_junit ----------------------------------------------------------------
# tests/data/v2.27.1/verify-junit.xml: the verifier's JUnit of the passing v2.27.1 run (35
# checks); failed and skipped variants are derived from it by changing one testcase.

VERIFY_JUNIT = RECORDED / "verify-junit.xml"
FIRST_CASE = "test_apiserver_domain_name_resolves_to_the_loadbalancer[ansible://km-1-b1927917]"


def _junit_with(tmp_path: Path, child: str | None, text: str = "", **attributes: str) -> Path:
    """The recorded JUnit with a <failure>/<error>/<skipped> under its first testcase."""
    tree = ET.parse(VERIFY_JUNIT)
    case = next(tree.getroot().iter("testcase"))
    if child:
        element = ET.SubElement(case, child, attributes)
        element.text = text
    path = tmp_path / "verify-junit.xml"
    tree.write(path, encoding="unicode")
    return path


def test_read_junit_of_the_recorded_passing_run() -> None:
    results = read_junit(VERIFY_JUNIT)

    assert (results.total, results.failed, results.skipped) == (35, [], [])
    assert results.passed


def test_read_junit_names_a_failed_check_and_keeps_its_message(tmp_path: Path) -> None:
    path = _junit_with(tmp_path, "failure", "assert None", message="AssertionError: km-2 resolves to 10.9.9.9")

    results = read_junit(path)

    assert results.failed == [FIRST_CASE]
    assert results.first_message == "AssertionError: km-2 resolves to 10.9.9.9"
    assert not results.passed


def test_read_junit_counts_errors_as_failures(tmp_path: Path) -> None:
    results = read_junit(_junit_with(tmp_path, "error", "fixture broke"))

    assert results.failed == [FIRST_CASE]
    assert results.first_message == "fixture broke"
    assert not results.passed


def test_read_junit_lists_a_skipped_check(tmp_path: Path) -> None:
    results = read_junit(_junit_with(tmp_path, "skipped", message="got empty parameter set"))

    assert results.skipped == [FIRST_CASE] and results.failed == []
    assert results.required_skipped([]) == [FIRST_CASE]
    assert results.required_skipped(["test_apiserver_domain_name_*"]) == []


def test_read_junit_of_a_missing_file(tmp_path: Path) -> None:
    results = read_junit(tmp_path / "verify-junit.xml")

    assert (results.total, results.failed) == (0, [])
    assert not results.passed


def test_read_junit_where_every_check_was_skipped_does_not_pass(tmp_path: Path) -> None:
    tree = ET.parse(VERIFY_JUNIT)
    for case in tree.getroot().iter("testcase"):
        ET.SubElement(case, "skipped")
    path = tmp_path / "verify-junit.xml"
    tree.write(path, encoding="unicode")

    assert not read_junit(path).passed


def _junit_failing(tmp_path: Path, failures: dict[str, str]) -> Path:
    """The recorded JUnit with failures under the testcases whose names start with these prefixes."""
    tree = ET.parse(VERIFY_JUNIT)
    for case in tree.getroot().iter("testcase"):
        message = next((text for prefix, text in failures.items() if case.get("name", "").startswith(prefix)), None)
        if message is not None:
            ET.SubElement(case, "failure", {"message": message}).text = message
    path = tmp_path / "verify-junit.xml"
    tree.write(path, encoding="unicode")
    return path


NO_BLOCK = "AssertionError: /etc/hosts: no '# Ansible inventory hosts BEGIN' ... block\n/etc/hosts reads:\n127.0.0.1 x"


def test_many_checks_failing_for_one_reason_are_summed_up_in_one_line(tmp_path: Path) -> None:
    path = _junit_failing(
        tmp_path,
        {"test_inventory_block_has_one_line": NO_BLOCK, "test_inventory_block_maps_each_host": NO_BLOCK},
    )

    results = read_junit(path)

    assert results.summary() == (
        "/etc/hosts: no '# Ansible inventory hosts BEGIN' ... block: 10 check(s) on 5 node(s) "
        "(km-1, km-2, km-3, kw-1, kw-2)"
    )
    assert len(results.failed) == 10, "every failed check is still listed"


def test_the_summary_leads_with_the_commonest_failure_and_counts_the_others(tmp_path: Path) -> None:
    other = "AssertionError: /etc/haproxy/haproxy.cfg: backend lists km-1 twice\nhaproxy.cfg reads:\n..."
    path = _junit_failing(
        tmp_path,
        {"test_inventory_block_has_one_line": NO_BLOCK, "test_backend_has_exactly_one_server": other},
    )

    summary = read_junit(path).summary()

    assert summary.startswith("/etc/hosts: no '# Ansible inventory hosts BEGIN' ... block: 5 check(s)")
    assert summary.endswith("; and 2 other failed check(s)")
