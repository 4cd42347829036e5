"""inventory: the Kubespray inventory written for a scenario, against the one recorded in a real run.

tests/data/v2.27.1/hosts.yml and zz-scenario.yml were written by the harness for a real
run whose nodes had the addresses in RECORDED_ADDRESSES (its nodes.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import inventory, scenario
from harness.errors import HarnessError
from harness.scenario import Scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDED = REPO_ROOT / "tests" / "data" / "v2.27.1"
RECORDED_RUN_ID = "fde247c0"
RECORDED_KEY = "/harness/run/ssh/id_ed25519"  # where the controller finds the run's key
RECORDED_ADDRESSES = {
    "km-1": "172.19.0.2",
    "km-2": "172.19.0.3",
    "km-3": "172.19.0.4",
    "kw-1": "172.19.0.5",
    "kw-2": "172.19.0.6",
    "lb-1": "172.19.0.7",
}


@pytest.fixture(scope="module")
def real_scenario() -> Scenario:
    return scenario.load(REPO_ROOT / "scenarios", "upgrade-node-based")


SSH = inventory.SshAccess(RECORDED_KEY, RECORDED_ADDRESSES)


def _recorded_hosts() -> dict[str, Any]:
    return yaml.safe_load((RECORDED / "hosts.yml").read_text())


def _all_groups(document: dict[str, Any]) -> dict[str, Any]:
    return document["all"]["children"]


# --- hosts_document ---------------------------------------------------------------------------


def test_hosts_document_equals_the_recorded_inventory(real_scenario: Scenario) -> None:
    assert inventory.hosts_document(real_scenario, SSH) == _recorded_hosts()


def test_hosts_document_sets_no_ip_or_access_ip(real_scenario: Scenario) -> None:
    document = inventory.hosts_document(real_scenario, SSH)
    host_vars = list(document["all"]["hosts"].values())

    assert all(not {"ip", "access_ip"} & set(variables) for variables in host_vars)
    assert not {"ip", "access_ip"} & set(document["all"]["vars"])


def test_hosts_document_leaves_the_loadbalancer_out(real_scenario: Scenario) -> None:
    document = inventory.hosts_document(real_scenario, SSH)
    grouped = {host for group in _all_groups(document).values() for host in (group.get("hosts") or {})}

    assert "lb-1" not in document["all"]["hosts"]
    assert "lb-1" not in grouped
    assert "lb-1" not in yaml.safe_dump(document)


def test_hosts_document_puts_control_planes_in_etcd_and_workers_in_kube_node(real_scenario: Scenario) -> None:
    groups = _all_groups(inventory.hosts_document(real_scenario, SSH))

    assert list(groups["kube_control_plane"]["hosts"]) == ["km-1", "km-2", "km-3"]
    assert list(groups["etcd"]["hosts"]) == ["km-1", "km-2", "km-3"]
    assert list(groups["kube_node"]["hosts"]) == ["kw-1", "kw-2"]
    assert groups["k8s_cluster"] == {"children": {"kube_control_plane": None, "kube_node": None}}


def test_hosts_document_has_an_empty_kube_node_group_without_workers(real_scenario: Scenario) -> None:
    control_planes_only = real_scenario.model_copy(update={"nodes": real_scenario.nodes_with_role("control-plane")})

    groups = _all_groups(inventory.hosts_document(control_planes_only, SSH))

    assert groups["kube_node"] == {"hosts": {}}


def test_container_and_network_names_carry_the_run_id() -> None:
    assert inventory.container_name("kw-1", RECORDED_RUN_ID) == "kw-1-fde247c0"
    assert inventory.network_name(RECORDED_RUN_ID) == "kh-fde247c0"


# --- fill_placeholders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        pytest.param("<< address('lb-1') >>", "172.19.0.7", id="bare"),
        pytest.param("https://<< address('lb-1') >>:8443", "https://172.19.0.7:8443", id="inside-text"),
        pytest.param(
            {"loadbalancer_apiserver": {"address": "<< address('lb-1') >>", "port": 8443}},
            {"loadbalancer_apiserver": {"address": "172.19.0.7", "port": 8443}},
            id="nested-dict",
        ),
        pytest.param(
            ["<< address('km-1') >>", ["<< address('km-2') >>"], {"host": "<< address('km-3') >>"}],
            ["172.19.0.2", ["172.19.0.3"], {"host": "172.19.0.4"}],
            id="nested-list",
        ),
        pytest.param(
            "{{ kube_apiserver_port }} << address('lb-1') >>",
            "{{ kube_apiserver_port }} 172.19.0.7",
            id="ansible-expression-next-to-placeholder",
        ),
    ],
)
def test_fill_placeholders_fills_addresses(value: Any, rendered: Any) -> None:
    assert inventory.fill_placeholders(value, RECORDED_ADDRESSES) == rendered


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("lb-apiserver.kubernetes.local", id="plain-string"),
        pytest.param("{{ hostvars[groups['kube_control_plane'][0]]['fallback_ip'] }}", id="ansible-expression"),
        pytest.param("{% if true %}x{% endif %}", id="ansible-statement"),
        pytest.param(8443, id="int"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="none"),
        pytest.param({"kube_network_plugin": "calico", "ports": [6443, "{{ port }}"]}, id="nested"),
    ],
)
def test_fill_placeholders_leaves_other_values_untouched(value: Any) -> None:
    assert inventory.fill_placeholders(value, RECORDED_ADDRESSES) == value


def test_fill_placeholders_keeps_value_types_in_nested_structures() -> None:
    rendered = inventory.fill_placeholders({"port": 8443, "enabled": True, "list": [1, None]}, RECORDED_ADDRESSES)

    assert rendered == {"port": 8443, "enabled": True, "list": [1, None]}
    assert isinstance(rendered["port"], int)
    assert rendered["enabled"] is True


def test_fill_placeholders_rejects_an_unknown_node() -> None:
    with pytest.raises(HarnessError, match=r"address\('lb-9'\)"):
        inventory.fill_placeholders({"a": ["<< address('lb-9') >>"]}, RECORDED_ADDRESSES)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<< addr('lb-1') >>", id="another-name"),
        pytest.param("<< address('lb-1') ", id="unclosed"),
        pytest.param("<< address('lb-1') | upper >>", id="a-filter"),
        pytest.param("<% for x in range(3) %><< x >><% endfor %>", id="a-statement"),
        pytest.param("<< ''.__class__.__mro__ >>", id="python-internals"),
    ],
)
def test_fill_placeholders_leaves_anything_but_the_address_placeholder_as_text(text: str) -> None:
    # The harness's placeholders are a fixed pattern, not a template language: whatever else a
    # scenario (or a stranger's report) writes between << >> is data, passed on as written.
    assert inventory.fill_placeholders(text, RECORDED_ADDRESSES) == text


# --- write_inventory --------------------------------------------------------------------------

SAMPLE_ALL = "---\n# Kubespray's sample, as an operator copies it\nbin_dir: /usr/local/bin\n"


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A stand-in for a Kubespray worktree: only its sample group_vars."""
    root = tmp_path / "kubespray"
    sample = root / "inventory" / "sample" / "group_vars" / "all"
    sample.mkdir(parents=True)
    (sample / "all.yml").write_text(SAMPLE_ALL)
    return root


def test_write_inventory_returns_the_hosts_file(tmp_path: Path, worktree: Path, real_scenario: Scenario) -> None:
    hosts = inventory.write_inventory(tmp_path / "inventory", real_scenario, worktree, SSH)

    assert hosts == tmp_path / "inventory" / "hosts.yml"
    assert yaml.safe_load(hosts.read_text()) == _recorded_hosts()


def test_write_inventory_copies_the_sample_group_vars(tmp_path: Path, worktree: Path, real_scenario: Scenario) -> None:
    inventory.write_inventory(tmp_path / "inventory", real_scenario, worktree, SSH)

    assert (tmp_path / "inventory" / "group_vars" / "all" / "all.yml").read_text() == SAMPLE_ALL


def test_write_inventory_writes_rendered_scenario_vars_like_the_recorded_run(
    tmp_path: Path, worktree: Path, real_scenario: Scenario
) -> None:
    inventory.write_inventory(tmp_path / "inventory", real_scenario, worktree, SSH)

    written = (tmp_path / "inventory" / "group_vars" / "all" / "zz-scenario.yml").read_text()
    assert yaml.safe_load(written) == yaml.safe_load((RECORDED / "zz-scenario.yml").read_text())
    assert written == (RECORDED / "zz-scenario.yml").read_text()


def test_write_inventory_writes_one_vars_file_per_scenario_group(
    tmp_path: Path, worktree: Path, real_scenario: Scenario
) -> None:
    inventory.write_inventory(tmp_path / "inventory", real_scenario, worktree, SSH)

    group_vars = tmp_path / "inventory" / "group_vars"
    assert sorted(p.relative_to(group_vars).as_posix() for p in group_vars.rglob("zz-scenario.yml")) == [
        "all/zz-scenario.yml",
        "k8s_cluster/zz-scenario.yml",
    ]
    assert yaml.safe_load((group_vars / "k8s_cluster" / "zz-scenario.yml").read_text()) == {
        "kube_network_plugin": "calico"
    }


def test_write_inventory_works_without_a_sample(tmp_path: Path, real_scenario: Scenario) -> None:
    empty_worktree = tmp_path / "kubespray"
    empty_worktree.mkdir()

    inventory.write_inventory(tmp_path / "inventory", real_scenario, empty_worktree, SSH)

    files = sorted(p.relative_to(tmp_path / "inventory").as_posix() for p in (tmp_path / "inventory").rglob("*.yml"))
    assert files == ["group_vars/all/zz-scenario.yml", "group_vars/k8s_cluster/zz-scenario.yml", "hosts.yml"]


def test_write_inventory_moves_a_single_file_sample_aside(tmp_path: Path, real_scenario: Scenario) -> None:
    worktree = tmp_path / "kubespray"
    sample = worktree / "inventory" / "sample" / "group_vars"
    sample.mkdir(parents=True)
    (sample / "all").write_text(SAMPLE_ALL)  # group vars kept in one file named after the group

    inventory.write_inventory(tmp_path / "inventory", real_scenario, worktree, SSH)

    group_vars = tmp_path / "inventory" / "group_vars"
    assert (group_vars / "all.yml").read_text() == SAMPLE_ALL
    assert (group_vars / "all" / "zz-scenario.yml").is_file()


def test_write_inventory_fails_for_a_placeholder_naming_an_absent_node(
    tmp_path: Path, worktree: Path, real_scenario: Scenario
) -> None:
    without_lb = {name: address for name, address in RECORDED_ADDRESSES.items() if name != "lb-1"}

    with pytest.raises(HarnessError, match="lb-1"):
        inventory.write_inventory(
            tmp_path / "inventory", real_scenario, worktree, inventory.SshAccess(RECORDED_KEY, without_lb)
        )


def test_hosts_document_at_a_step_leaves_out_nodes_that_join_later() -> None:
    scale = scenario.load(REPO_ROOT / "scenarios", "scale-limit")
    deploy, scale_step = scale.steps
    ssh = inventory.SshAccess(RECORDED_KEY, {**RECORDED_ADDRESSES, "kw-3": "172.19.0.8"})
    before = inventory.hosts_document(scale, ssh, step=deploy)["all"]
    after = inventory.hosts_document(scale, ssh, step=scale_step)["all"]
    assert "kw-3" not in before["hosts"] and "kw-3" not in before["children"]["kube_node"]["hosts"]
    assert "kw-3" in after["hosts"] and "kw-3" in after["children"]["kube_node"]["hosts"]


def test_hosts_document_over_ssh_reaches_hosts_at_their_addresses(real_scenario: Scenario, tmp_path: Path) -> None:
    addresses = {name: f"172.18.0.{i}" for i, name in enumerate(["km-1", "km-2", "km-3", "kw-1", "kw-2"], start=2)}
    ssh = inventory.SshAccess(RECORDED_KEY, addresses)
    document = inventory.hosts_document(real_scenario, ssh)["all"]
    assert {name: host["ansible_host"] for name, host in document["hosts"].items()} == addresses
    assert document["vars"]["ansible_ssh_private_key_file"] == RECORDED_KEY
    assert "ansible_connection" not in document["vars"]  # Ansible's default: ssh
