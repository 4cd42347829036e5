"""scenario.load: the real scenario, and bad scenario.yml files derived from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import scenario
from harness.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "scenarios"
REAL = "upgrade-node-based"
HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"


def _real_data() -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS / REAL / "scenario.yml").read_text())


def _write(scenarios_dir: Path, name: str, data: Any) -> Path:
    """A scenario folder: scenario.yml from `data`."""
    directory = scenarios_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scenario.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


# --- the real scenario ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> scenario.Scenario:
    return scenario.load(SCENARIOS, REAL)


def test_real_scenario_has_six_nodes_with_their_roles(real: scenario.Scenario) -> None:
    assert [(node.name, node.role) for node in real.nodes] == [
        ("km-1", "control-plane"),
        ("km-2", "control-plane"),
        ("km-3", "control-plane"),
        ("kw-1", "worker"),
        ("kw-2", "worker"),
        ("lb-1", "loadbalancer"),
    ]


def test_real_scenario_keeps_the_loadbalancer_out_of_kubespray(real: scenario.Scenario) -> None:
    assert [node.name for node in real.kubespray_nodes()] == ["km-1", "km-2", "km-3", "kw-1", "kw-2"]
    assert [node.name for node in real.nodes_with_role("loadbalancer")] == ["lb-1"]


def test_real_scenario_steps_in_order(real: scenario.Scenario) -> None:
    assert [(step.name, step.phase, step.playbook, step.limit) for step in real.steps] == [
        ("deploy", "prepare", "cluster.yml", None),
        ("upgrade-control-plane", "converge", "upgrade-cluster.yml", "kube_control_plane:etcd"),
        ("upgrade-kw-1", "converge", "upgrade-cluster.yml", "kw-1"),
        ("upgrade-kw-2", "converge", "upgrade-cluster.yml", "kw-2"),
    ]


def test_real_scenario_steps_by_phase(real: scenario.Scenario) -> None:
    assert [step.name for step in real.steps_of("prepare")] == ["deploy"]
    assert [step.name for step in real.steps_of("converge")] == [
        "upgrade-control-plane",
        "upgrade-kw-1",
        "upgrade-kw-2",
    ]


def test_real_scenario_steps_use_the_scenario_tags(real: scenario.Scenario) -> None:
    assert all(real.step_tags(step) == ["asserts", "facts", "etchosts", "haproxy"] for step in real.steps)


def test_real_scenario_expects_v2_27_0_to_fail_at_the_haproxy_template(real: scenario.Scenario) -> None:
    expectation = real.expectations["v2.27.0"]

    assert not expectation.passes
    assert expectation.fail is not None
    assert expectation.fail.task == HAPROXY_TASK
    assert expectation.fail.message == "fallback_ip"


def test_real_scenario_expects_v2_27_1_to_pass(real: scenario.Scenario) -> None:
    assert real.expectations["v2.27.1"].passes
    assert real.expectations["v2.27.1"].describe() == "pass"


def test_real_scenario_default_refs(real: scenario.Scenario) -> None:
    assert real.default_refs == ["v2.27.0", "v2.27.1"]


def test_real_scenario_knows_its_directory(real: scenario.Scenario) -> None:
    assert real.name == REAL
    assert real.directory == SCENARIOS / REAL


def test_available_lists_the_real_scenario() -> None:
    assert REAL in scenario.available(SCENARIOS)


def test_step_tags_of_a_step_with_its_own_tags(tmp_path: Path) -> None:
    data = _real_data()
    data["steps"][0]["tags"] = ["facts"]
    _write(tmp_path, "own-tags", data)

    loaded = scenario.load(tmp_path, "own-tags")

    assert loaded.step_tags(loaded.steps[0]) == ["facts"]
    assert loaded.step_tags(loaded.steps[1]) == ["asserts", "facts", "etchosts", "haproxy"]


@pytest.mark.parametrize(
    "limit",
    ["kw-1", "kube_control_plane:etcd", "kube_node:!kw-2", "km-*", "all:&etcd", "~km-[12]", "kw-1,kw-2"],
)
def test_valid_limits_are_accepted(tmp_path: Path, limit: str) -> None:
    data = _real_data()
    data["steps"][1]["limit"] = limit
    _write(tmp_path, "limits", data)

    assert scenario.load(tmp_path, "limits").steps[1].limit == limit


def test_a_file_without_hosts_is_on_every_node_but_the_loadbalancer(tmp_path: Path) -> None:
    data = _real_data()
    data["files"] = [{"path": "/etc/resolv.conf", "content": "nameserver 10.0.0.2\n"}]
    _write(tmp_path, "files", data)

    loaded = scenario.load(tmp_path, "files")

    holding = [node.name for node in loaded.nodes_holding(loaded.files[0])]
    assert holding == [node.name for node in loaded.nodes if node.role != "loadbalancer"]
    assert "lb-1" not in holding


def test_a_file_with_hosts_is_on_those_nodes_only(tmp_path: Path) -> None:
    data = _real_data()
    data["files"] = [{"path": "/etc/resolv.conf", "content": "nameserver 10.0.0.2\n", "hosts": ["kw-2"]}]
    _write(tmp_path, "files", data)

    loaded = scenario.load(tmp_path, "files")

    assert [node.name for node in loaded.nodes_holding(loaded.files[0])] == ["kw-2"]


# --- bad input --------------------------------------------------------------------------------


def _set_role(data: dict[str, Any]) -> None:
    data["nodes"][0]["role"] = "master"


def _duplicate_node(data: dict[str, Any]) -> None:
    data["nodes"].append({"name": "kw-1", "role": "worker"})


def _unknown_limit(data: dict[str, Any]) -> None:
    data["steps"][2]["limit"] = "kw-9"


def _unknown_negated_limit(data: dict[str, Any]) -> None:
    data["steps"][1]["limit"] = "kube_node:!kw-9"


def _unknown_group_vars(data: dict[str, Any]) -> None:
    data["group_vars"]["workers"] = {"kube_network_plugin": "flannel"}


def _extra_top_level_key(data: dict[str, Any]) -> None:
    data["colour"] = "blue"


def _extra_node_key(data: dict[str, Any]) -> None:
    data["nodes"][3]["ip"] = "172.18.0.5"


def _extra_step_key(data: dict[str, Any]) -> None:
    data["steps"][0]["limits"] = "kw-1"


def _no_control_plane(data: dict[str, Any]) -> None:
    data["nodes"] = [node for node in data["nodes"] if node["role"] != "control-plane"]


def _bad_node_name(data: dict[str, Any]) -> None:
    data["nodes"][0]["name"] = "KM_1"


def _bad_phase(data: dict[str, Any]) -> None:
    data["steps"][0]["phase"] = "verify"


def _limit_to_loadbalancer(data: dict[str, Any]) -> None:
    data["steps"][2]["limit"] = "lb-1"  # lb-1 is no Kubespray host


def _duplicate_step(data: dict[str, Any]) -> None:
    data["steps"][3]["name"] = "upgrade-kw-1"


def _bad_expectation(data: dict[str, Any]) -> None:
    data["expectations"]["v2.27.1"] = "passes"


def _file_out_of_its_path(data: dict[str, Any]) -> None:
    data["files"] = [{"path": "/etc/kubernetes/../shadow", "content": "x"}]


def _file_for_an_unknown_node(data: dict[str, Any]) -> None:
    data["files"] = [{"path": "/etc/resolv.conf", "content": "nameserver 10.0.0.2\n", "hosts": ["kw-9"]}]


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param(
            _set_role, ["nodes.0.role", "'control-plane', 'worker', 'etcd' or 'loadbalancer'"], id="unknown-role"
        ),
        pytest.param(_duplicate_node, ["node name used twice: kw-1"], id="duplicate-node"),
        pytest.param(_unknown_limit, ["upgrade-kw-1", "--limit 'kw-9' names no node or group"], id="unknown-limit"),
        pytest.param(_unknown_negated_limit, ["--limit 'kube_node:!kw-9'"], id="unknown-negated-limit"),
        pytest.param(_unknown_group_vars, ["group_vars for unknown group 'workers'"], id="unknown-group-vars"),
        pytest.param(_extra_top_level_key, ["colour", "Extra inputs are not permitted"], id="extra-key"),
        pytest.param(_extra_node_key, ["nodes.3.ip", "Extra inputs are not permitted"], id="extra-node-key"),
        pytest.param(_extra_step_key, ["steps.0.limits", "Extra inputs are not permitted"], id="extra-step-key"),
        pytest.param(_no_control_plane, ["no node has role control-plane"], id="no-control-plane"),
        pytest.param(_bad_node_name, ["nodes.0.name"], id="bad-node-name"),
        pytest.param(_bad_phase, ["steps.0.phase", "'prepare' or 'converge'"], id="bad-phase"),
        pytest.param(_limit_to_loadbalancer, ["--limit 'lb-1' names no node or group"], id="limit-to-lb"),
        pytest.param(_duplicate_step, ["step names must be unique"], id="duplicate-step"),
        pytest.param(_bad_expectation, ["expectations.v2.27.1"], id="bad-expectation"),
        pytest.param(_file_out_of_its_path, ["files.0.path", "absolute path of plain names"], id="file-path-with-dots"),
        pytest.param(_file_for_an_unknown_node, ["files: /etc/resolv.conf is for kw-9"], id="file-for-unknown-node"),
    ],
)
def test_bad_scenario_is_refused_with_the_problem_named(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], problems: list[str]
) -> None:
    data = _real_data()
    change(data)
    directory = _write(tmp_path, "bad", data)

    with pytest.raises(HarnessError) as caught:
        scenario.load(tmp_path, "bad")

    message = caught.value.message
    assert str(directory / "scenario.yml") in message
    for problem in problems:
        assert problem in message


def test_scenario_yml_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "scenario.yml").write_text("nodes: [\n  - {name: km-1, role: control-plane\n")

    with pytest.raises(HarnessError, match="is not valid YAML"):
        scenario.load(tmp_path, "broken")


@pytest.mark.parametrize("content", ["", "- km-1\n- kw-1\n", "just a string\n"], ids=["empty", "list", "string"])
def test_scenario_yml_that_is_not_a_mapping_is_refused(tmp_path: Path, content: str) -> None:
    directory = tmp_path / "odd"
    directory.mkdir()
    (directory / "scenario.yml").write_text(content)

    with pytest.raises(HarnessError, match="must be a mapping"):
        scenario.load(tmp_path, "odd")


def test_unknown_scenario_name_lists_the_available_ones(tmp_path: Path) -> None:
    _write(tmp_path, "alpha", _real_data())
    _write(tmp_path, "beta", _real_data())
    (tmp_path / "not-a-scenario").mkdir()

    with pytest.raises(HarnessError) as caught:
        scenario.load(tmp_path, "gamma")

    assert caught.value.message == "unknown scenario 'gamma': available are alpha, beta"


def test_unknown_scenario_name_in_the_real_directory_names_the_real_scenario() -> None:
    with pytest.raises(HarnessError, match=f"unknown scenario 'upgrade-nodes-based': available are .*{REAL}"):
        scenario.load(SCENARIOS, "upgrade-nodes-based")


def test_unknown_scenario_in_an_empty_directory_says_none(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="available are none"):
        scenario.load(tmp_path, "anything")


def test_name_key_in_scenario_yml_is_refused_with_harness_error(tmp_path: Path) -> None:
    data = _real_data()
    data["name"] = "other-name"
    _write(tmp_path, "named", data)

    with pytest.raises(HarnessError, match="'name' is not a scenario field"):
        scenario.load(tmp_path, "named")


# --- nodes that join later (scale-limit) ------------------------------------------------------


@pytest.fixture(scope="module")
def scale() -> scenario.Scenario:
    return scenario.load(SCENARIOS, "scale-limit")


def test_node_that_joins_later_is_outside_the_deploy_inventory(scale: scenario.Scenario) -> None:
    deploy, scale_step = scale.steps
    assert "kw-3" not in [node.name for node in scale.kubespray_nodes(deploy)]
    assert "kw-3" in [node.name for node in scale.kubespray_nodes(scale_step)]
    assert "kw-3" in [node.name for node in scale.kubespray_nodes()]


def test_joins_at_must_name_a_step(tmp_path: Path) -> None:
    data = yaml.safe_load((SCENARIOS / "scale-limit" / "scenario.yml").read_text())
    data["nodes"][5]["joins_at"] = "no-such-step"
    _write(tmp_path, "bad-join", data)
    with pytest.raises(HarnessError, match="joins_at 'no-such-step' is not a step"):
        scenario.load(tmp_path, "bad-join")


def test_limit_to_a_node_before_it_joins_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((SCENARIOS / "scale-limit" / "scenario.yml").read_text())
    data["steps"][0]["limit"] = "kw-3"
    _write(tmp_path, "early-limit", data)
    with pytest.raises(HarnessError, match="--limit 'kw-3' names no node or group in that step's inventory"):
        scenario.load(tmp_path, "early-limit")


# --- group var files ----------------------------------------------------------------------------


def test_group_var_files_are_merged_under_inline_group_vars(tmp_path: Path) -> None:
    directory = _write(tmp_path, "with-files", _real_data())
    (directory / "group_vars").mkdir()
    (directory / "group_vars" / "k8s_cluster.yml").write_text(
        "kube_proxy_mode: iptables\nkube_network_plugin: flannel\n"
    )
    loaded = scenario.load(tmp_path, "with-files")
    assert loaded.group_vars["k8s_cluster"] == {"kube_proxy_mode": "iptables", "kube_network_plugin": "calico"}


def test_group_var_file_that_is_not_valid_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    directory = _write(tmp_path, "bad-file", _real_data())
    (directory / "group_vars").mkdir()
    bad = directory / "group_vars" / "all.yml"
    bad.write_text("loadbalancer_apiserver: {address: [unclosed\n")
    with pytest.raises(HarnessError, match="is not valid YAML") as caught:
        scenario.load(tmp_path, "bad-file")
    assert str(bad) in caught.value.message


def test_group_var_file_for_an_unknown_group_is_refused(tmp_path: Path) -> None:
    directory = _write(tmp_path, "bad-group", _real_data())
    (directory / "group_vars").mkdir()
    (directory / "group_vars" / "workers.yml").write_text("a: 1\n")
    with pytest.raises(HarnessError, match="group_vars for unknown group 'workers'"):
        scenario.load(tmp_path, "bad-group")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"step": "upgrade-kw-9"}, "step 'upgrade-kw-9' is not a step of scenario", id="unknown-step"),
        pytest.param({"hosts": ["kw-9"]}, "host(s) kw-9 are not Kubespray hosts", id="unknown-host"),
        pytest.param({"hosts": ["lb-1"]}, "host(s) lb-1 are not Kubespray hosts", id="the-load-balancer"),
        pytest.param({"hosts": []}, "hosts: name every host the task fails on", id="no-hosts"),
        pytest.param({"message": ""}, "message: must not be empty", id="empty-message"),
        pytest.param({"message": None}, "needs a message", id="no-message-or-rc"),
    ],
)
def test_a_failure_expectation_must_name_a_step_hosts_and_a_message_of_the_scenario(
    tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    data = _real_data()
    data["expectations"]["v2.27.0"]["fail"].update(change)
    _write(tmp_path, "strict", data)

    with pytest.raises(HarnessError) as caught:
        scenario.load(tmp_path, "strict")

    assert problem in caught.value.message
    assert "expectations" in caught.value.message


def test_optional_checks_are_shell_patterns_on_test_names(tmp_path: Path) -> None:
    data = {**_real_data(), "optional_checks": ["test_haproxy_accepts_the_config*"]}
    _write(tmp_path, "optional", data)

    assert scenario.load(tmp_path, "optional").optional_checks == ["test_haproxy_accepts_the_config*"]


def test_a_scenario_is_offline_unless_it_says_it_needs_egress() -> None:
    loaded = scenario.load(SCENARIOS, "upgrade-node-based")
    assert loaded.egress is False
    assert loaded.model_validate({**loaded.model_dump(), "egress": True}).egress is True
