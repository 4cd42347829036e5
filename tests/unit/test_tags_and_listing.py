"""Kubespray's task listing (recorded from `ansible-playbook --list-tasks` by the harness at
v2.27.1) read into tasks and tags; the tags a repro chooses from it, each with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kubespray import listing
from harness.repro import tags

LISTINGS = Path(__file__).resolve().parents[1] / "data" / "v2.27.1" / "listings"
HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"
NGINX_TASK = "kubernetes/node : Nginx-proxy | Write nginx-proxy configuration"
ETCHOSTS_TASK = "kubernetes/preinstall : Hosts | create hosts list from inventory"


def recorded(playbook: str) -> listing.Listing:
    return listing.parse(playbook, (LISTINGS / f"{playbook}.txt").read_text())


@pytest.fixture(scope="module")
def upgrade() -> listing.Listing:
    return recorded("upgrade-cluster.yml")


def test_every_listed_task_is_read_with_its_play_and_tags(upgrade: listing.Listing) -> None:
    (haproxy, *_) = upgrade.named(HAPROXY_TASK)

    assert len(upgrade.tasks) > 1000
    assert {"haproxy", "node"} <= haproxy.tags
    assert haproxy.play


def test_the_base_tags_select_about_a_fifth_of_the_upgrade(upgrade: listing.Listing) -> None:
    selected = upgrade.selected(tags.BASE_TAGS)

    assert 0.1 < len(selected) / len(upgrade.tasks) < 0.4, (len(selected), len(upgrade.tasks))


@pytest.mark.parametrize(
    ("task_tags", "chosen", "skipped", "runs"),
    [
        pytest.param({"haproxy", "node"}, ["haproxy"], [], True, id="one-tag-in-common"),
        pytest.param({"nginx"}, ["haproxy"], [], False, id="none-in-common"),
        pytest.param({"always"}, ["haproxy"], [], True, id="always"),
        pytest.param({"always"}, ["haproxy"], ["always"], False, id="always-skipped"),
        pytest.param({"never", "reset"}, [], [], False, id="never-without-tags"),
        pytest.param({"never", "reset"}, ["reset"], [], True, id="never-when-asked"),
        pytest.param({"facts"}, [], [], True, id="no-tags-runs-all"),
        pytest.param({"facts", "kubelet"}, ["facts"], ["kubelet"], False, id="skip-wins"),
    ],
)
def test_a_task_runs_under_tags_by_ansibles_rules(
    task_tags: set[str], chosen: list[str], skipped: list[str], runs: bool
) -> None:
    assert listing.ListedTask("p", "t", frozenset(task_tags)).runs_under(chosen, skipped) is runs


def test_a_task_the_base_set_runs_adds_no_tag(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, HAPROXY_TASK, {})

    assert choice.tags == tags.BASE_TAGS
    assert f"TASK [{HAPROXY_TASK}] runs under the base set" in choice.reasons


def test_a_task_outside_the_base_set_adds_its_narrowest_tag_and_says_why(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, NGINX_TASK, {})

    assert choice.tags == [*tags.BASE_TAGS, "nginx"]
    assert any(reason.startswith(f"nginx: the narrowest of TASK [{NGINX_TASK}]'s tags") for reason in choice.reasons)
    assert upgrade.carrying("nginx") < upgrade.carrying("node")


def test_the_load_balancer_a_report_switches_on_is_run(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, ETCHOSTS_TASK, {"loadbalancer_apiserver_type": "nginx"})

    assert "nginx" in choice.tags
    assert "nginx: loadbalancer_apiserver_type is nginx: the API server load balancer the nodes run" in choice.reasons


def test_a_network_plugin_the_reported_task_is_not_in_is_left_out(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, HAPROXY_TASK, {"kube_network_plugin": "calico"})

    assert "calico" not in choice.tags
    assert "calico (kube_network_plugin) not added: the reported task is not in it" in choice.reasons


KUBELET_UNIT_TASK = "kubernetes/node : Write kubelet systemd init file"
KUBEADM_COPY_TASK = "kubernetes/node : Install | Copy kubeadm binary from download dir"


def test_a_tag_added_to_reach_the_reported_task_is_marked_as_reaching() -> None:
    choice = tags.choose(recorded("scale.yml"), KUBELET_UNIT_TASK, {"loadbalancer_apiserver_type": "nginx"})

    added = [tag for tag in choice.tags if tag not in tags.BASE_TAGS and tag != "nginx"]
    assert choice.reaching == added and len(added) == 1


def test_a_failed_task_that_only_the_reaching_tag_selects_is_beyond_containers() -> None:
    scale = recorded("scale.yml")
    choice = tags.choose(scale, KUBELET_UNIT_TASK, {"loadbalancer_apiserver_type": "nginx"})

    assert choice.reached_only_by(scale.named(KUBEADM_COPY_TASK)) == choice.reaching[0]


def test_a_failed_task_the_offline_tags_select_too_is_not_beyond_containers() -> None:
    scale = recorded("scale.yml")
    choice = tags.choose(scale, KUBELET_UNIT_TASK, {"loadbalancer_apiserver_type": "nginx"})

    assert choice.reached_only_by(scale.named(ETCHOSTS_TASK)) is None
    assert choice.reached_only_by(scale.named("kubernetes/node : No such task")) is None


def test_the_load_balancer_the_nodes_run_is_never_beyond_containers(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, NGINX_TASK, {"loadbalancer_apiserver_type": "nginx"})

    assert "nginx" in choice.tags and choice.reaching == []
    assert choice.reached_only_by(upgrade.named(NGINX_TASK)) is None


def test_a_task_the_ref_does_not_list_is_said(upgrade: listing.Listing) -> None:
    choice = tags.choose(upgrade, "no-such-role : No such task", {})

    assert choice.tags == tags.BASE_TAGS
    assert "is not in the task list of upgrade-cluster.yml at this ref" in choice.reasons[-1]


# Loaded by the etcd role's `include_tasks: gen_certs_script.yml`: Ansible cannot list it (kubespray#12220).
INCLUDED_TASK = "etcd : Gen_certs | Pretend all control plane have all certs (with symlinks)"


def test_a_task_behind_a_dynamic_include_takes_the_tags_its_role_gives_every_task(upgrade: listing.Listing) -> None:
    (entry,) = upgrade.entries(INCLUDED_TASK)
    choice = tags.choose(upgrade, INCLUDED_TASK, {})

    assert entry.inferred and entry.tags == {"etcd"}
    assert choice.tags == [*tags.BASE_TAGS, "etcd"]
    assert choice.reaching == ["etcd"]
    assert any("behind a dynamic include" in reason for reason in choice.reasons), choice.reasons


def test_a_role_printed_with_its_collections_name_is_the_checkouts_role(upgrade: listing.Listing) -> None:
    assert upgrade.name_here(f"kubernetes_sigs.kubespray.{HAPROXY_TASK}") == HAPROXY_TASK
    assert upgrade.name_here(f"kubernetes_sigs.kubespray.{INCLUDED_TASK}") == INCLUDED_TASK


@pytest.mark.parametrize(
    ("reported", "here"),
    [
        pytest.param(
            "kubernetes/preinstall : Hosts | create list from inventory",
            "kubernetes/preinstall : Hosts | create hosts list from inventory",
            id="a-word-added",
        ),
        pytest.param(
            "kubernetes/preinstall : Stop if /etc/resolv.conf not configured nameservers",
            "kubernetes/preinstall : Stop if /etc/resolv.conf has no configured nameservers",
            id="reworded",
        ),
        pytest.param(
            "kubernetes/preinstall : hosts | create hosts list from inventory",
            "kubernetes/preinstall : Hosts | create hosts list from inventory",
            id="recapitalised",
        ),
    ],
)
def test_a_task_kubespray_renamed_is_found_under_its_name_at_the_ref(
    upgrade: listing.Listing, reported: str, here: str
) -> None:
    assert not upgrade.named(reported)

    assert upgrade.name_here(reported) == here


def test_a_task_under_its_own_name_keeps_it(upgrade: listing.Listing) -> None:
    name = "kubernetes/preinstall : Hosts | create hosts list from inventory"

    assert upgrade.name_here(name) == name


@pytest.mark.parametrize(
    "reported",
    [
        pytest.param("kubernetes/preinstall : Hosts | write the inventory", id="not-alike-enough"),
        pytest.param("kubernetes/node : Hosts | create list from inventory", id="another-role"),
    ],
)
def test_a_task_without_a_likely_new_name_is_not_found(upgrade: listing.Listing, reported: str) -> None:
    assert upgrade.name_here(reported) is None
