"""harness.kubespray.tasks: whether a ref's preinstall role writes /etc/hosts, read from its tasks.

The roles here are small ones written for these tests in the shape of Kubespray's (main.yml
importing a task file under tags); the real refs on both sides of PR 12382 are checked in
tests/integration/test_etc_hosts_tasks_of_real_refs.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.kubespray import tasks

RUN_TAGS = ["asserts", "facts", "etchosts", "haproxy"]
BLOCK_TASK = {
    "name": "Hosts | populate inventory into hosts file",
    "blockinfile": {"path": "/etc/hosts", "block": "{{ block }}", "marker": "# Ansible inventory hosts {mark}"},
}
NAME_TASK = {
    "name": "Hosts | populate kubernetes loadbalancer address into hosts file",
    "lineinfile": {"dest": "/etc/hosts", "line": "{{ address }} {{ apiserver_loadbalancer_domain_name }}"},
}
IMPORT = {"name": "Configure /etc/hosts", "import_tasks": "0090-etchosts.yml", "tags": ["bootstrap_os", "etchosts"]}
ON = {"populate_inventory_to_hosts_file": True, "populate_loadbalancer_apiserver_to_hosts_file": True}
LB = {"loadbalancer_apiserver": {"address": "10.0.0.6", "port": 8443}}


def _role(tmp_path: Path, main: list[dict], **files: list[dict]) -> Path:
    tasks_dir = tmp_path / tasks.PREINSTALL_TASKS
    tasks_dir.mkdir(parents=True)
    (tasks_dir / "main.yml").write_text(yaml.safe_dump(main))
    for name, content in files.items():
        (tasks_dir / name).write_text(yaml.safe_dump(content))
    return tmp_path


def test_a_ref_that_imports_the_etc_hosts_tasks_writes_the_block_and_the_apiserver_name(tmp_path: Path) -> None:
    worktree = _role(tmp_path, [IMPORT], **{"0090-etchosts.yml": [BLOCK_TASK, NAME_TASK]})

    assert tasks.etc_hosts_tasks(worktree, RUN_TAGS) == tasks.EtcHostsTasks(inventory_block=True, apiserver_name=True)


def test_a_ref_without_the_etc_hosts_tasks_writes_nothing(tmp_path: Path) -> None:
    worktree = _role(tmp_path, [{"name": "Configure dhclient", "import_tasks": "0100-dhclient-hooks.yml"}])

    assert tasks.etc_hosts_tasks(worktree, RUN_TAGS) == tasks.EtcHostsTasks(inventory_block=False, apiserver_name=False)


def test_a_task_file_left_behind_but_no_longer_imported_writes_nothing(tmp_path: Path) -> None:
    worktree = _role(tmp_path, [], **{"0090-etchosts.yml": [BLOCK_TASK, NAME_TASK]})

    assert not tasks.etc_hosts_tasks(worktree, RUN_TAGS).inventory_block


def test_tasks_the_runs_tags_do_not_select_do_not_run(tmp_path: Path) -> None:
    worktree = _role(tmp_path, [IMPORT], **{"0090-etchosts.yml": [BLOCK_TASK, NAME_TASK]})

    assert not tasks.etc_hosts_tasks(worktree, ["facts"]).inventory_block
    assert tasks.etc_hosts_tasks(worktree, None).inventory_block, "without --tags every task runs"


def test_tasks_in_a_block_with_fully_qualified_modules_and_an_include_are_found(tmp_path: Path) -> None:
    block = {
        "block": [
            {"ansible.builtin.blockinfile": BLOCK_TASK["blockinfile"]},
            {"ansible.builtin.lineinfile": NAME_TASK["lineinfile"]},
        ],
        "tags": ["always"],
    }
    worktree = _role(tmp_path, [{"ansible.builtin.include_tasks": {"file": "hosts.yml"}}], **{"hosts.yml": [block]})

    assert tasks.etc_hosts_tasks(worktree, ["facts"]) == tasks.EtcHostsTasks(inventory_block=True, apiserver_name=True)


def test_a_blockinfile_on_another_file_or_with_another_marker_is_not_the_inventory_block(tmp_path: Path) -> None:
    other_file = {"blockinfile": {**BLOCK_TASK["blockinfile"], "path": "/etc/dhcp/dhclient.conf"}}
    other_marker = {"blockinfile": {**BLOCK_TASK["blockinfile"], "marker": "# Ansible entries {mark}"}}
    worktree = _role(tmp_path, [other_file, other_marker])

    assert not tasks.etc_hosts_tasks(worktree).inventory_block


def test_a_worktree_without_the_role_writes_nothing(tmp_path: Path) -> None:
    assert tasks.etc_hosts_tasks(tmp_path) == tasks.EtcHostsTasks(inventory_block=False, apiserver_name=False)


# --- etc_hosts_writes: the ref's tasks under the run's variables -------------------------------

BOTH = tasks.EtcHostsTasks(inventory_block=True, apiserver_name=True)
NEITHER = tasks.EtcHostsTasks(inventory_block=False, apiserver_name=False)


@pytest.mark.parametrize(
    ("ref_tasks", "variables", "expected"),
    [
        pytest.param(BOTH, {**ON, **LB}, BOTH, id="written-with-kubesprays-defaults"),
        pytest.param(BOTH, {**LB}, BOTH, id="switches-unset-mean-kubesprays-default-on"),
        pytest.param(
            BOTH,
            {**ON, **LB, "populate_inventory_to_hosts_file": False},
            tasks.EtcHostsTasks(inventory_block=False, apiserver_name=True),
            id="inventory-switched-off",
        ),
        pytest.param(
            BOTH,
            {**ON, **LB, "populate_loadbalancer_apiserver_to_hosts_file": "false"},
            tasks.EtcHostsTasks(inventory_block=True, apiserver_name=False),
            id="apiserver-name-switched-off-as-a-string",
        ),
        pytest.param(
            BOTH, ON, tasks.EtcHostsTasks(inventory_block=True, apiserver_name=False), id="no-external-loadbalancer"
        ),
        pytest.param(NEITHER, {**ON, **LB}, NEITHER, id="the-ref-has-no-such-tasks"),
    ],
)
def test_etc_hosts_writes(ref_tasks, variables, expected) -> None:
    assert tasks.etc_hosts_writes(ref_tasks, {"km-1": variables, "kw-1": variables}) == expected


def test_a_switch_that_differs_between_hosts_is_refused_naming_it() -> None:
    variables = {"km-1": {**ON, **LB}, "kw-1": {**ON, **LB, "populate_inventory_to_hosts_file": False}}

    with pytest.raises(HarnessError, match="populate_inventory_to_hosts_file differs between hosts"):
        tasks.etc_hosts_writes(BOTH, variables)


def test_a_task_file_with_ansibles_unsafe_values_is_read(tmp_path: Path) -> None:
    # v2.25.1's preinstall role writes `dquote: !unsafe '"'`: the checks' reading of it crashed.
    worktree = _role(tmp_path, [IMPORT, {"name": "Other", "import_tasks": "0080-other.yml"}])
    (worktree / tasks.PREINSTALL_TASKS / "0090-etchosts.yml").write_text(yaml.safe_dump([BLOCK_TASK, NAME_TASK]))
    (worktree / tasks.PREINSTALL_TASKS / "0080-other.yml").write_text(
        "- name: Quote\n  set_fact:\n    dquote: !unsafe '\"'\n"
    )

    assert tasks.etc_hosts_tasks(worktree, RUN_TAGS) == tasks.EtcHostsTasks(inventory_block=True, apiserver_name=True)
