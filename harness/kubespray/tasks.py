"""What a Kubespray ref does, read from its own task files rather than from a version table.

Kubespray wrote its inventory into /etc/hosts (and the API server's name, and localhost
lines) from its preinstall role until PR 12382 ("Do not alter etc/hosts", July 2025,
every tag from v2.29.0 on). The host checks follow the ref: they look here for the tasks
that write the file, reached from the role's main.yml under the tags the run selects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

PREINSTALL_TASKS = Path("roles/kubernetes/preinstall/tasks")
INVENTORY_MARKER = "Ansible inventory hosts"
IMPORTS = {"import_tasks", "include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_tasks"}
BLOCKINFILE = {"blockinfile", "ansible.builtin.blockinfile"}
LINEINFILE = {"lineinfile", "ansible.builtin.lineinfile"}
TASK_LISTS = ("block", "rescue", "always")


@dataclass(frozen=True)
class EtcHostsTasks:
    """Which /etc/hosts writes of the preinstall role run under the run's tags."""

    inventory_block: bool  # blockinfile "# Ansible inventory hosts BEGIN/END"
    apiserver_name: bool  # lineinfile "<load balancer address> <apiserver_loadbalancer_domain_name>"


@dataclass(frozen=True)
class _Task:
    body: dict[str, Any]
    tags: frozenset[str]


def etc_hosts_tasks(worktree: Path, tags: list[str] | None = None) -> EtcHostsTasks:
    """The preinstall role's tasks that write /etc/hosts and would run with `--tags TAGS`
    (all of them when no tags are given)."""
    selected = [task for task in _role_tasks(worktree / PREINSTALL_TASKS) if _runs(task.tags, tags)]
    return EtcHostsTasks(
        inventory_block=any(_writes_inventory_block(task.body) for task in selected),
        apiserver_name=any(_writes_apiserver_name(task.body) for task in selected),
    )


def etc_hosts_writes(tasks: EtcHostsTasks, variables: dict[str, dict[str, Any]]) -> EtcHostsTasks:
    """The writes that take effect on these hosts: the ref's tasks, as Kubespray's
    `populate_*_to_hosts_file` switches (role defaults: on) and the load balancer allow."""
    block = tasks.inventory_block and _same_on_all(variables, "populate_inventory_to_hosts_file")
    apiserver_name = (
        tasks.apiserver_name
        and _same_on_all(variables, "populate_loadbalancer_apiserver_to_hosts_file")
        and all(
            isinstance(v.get("loadbalancer_apiserver"), dict) and v["loadbalancer_apiserver"].get("address")
            for v in variables.values()
        )
    )
    return EtcHostsTasks(inventory_block=block, apiserver_name=bool(apiserver_name))


def _same_on_all(variables: dict[str, dict[str, Any]], switch: str) -> bool:
    values = {host: _truthy(host_variables.get(switch, True)) for host, host_variables in variables.items()}
    if len(set(values.values())) > 1:
        raise HarnessError(
            f"{switch} differs between hosts ({values}): the /etc/hosts checks expect one behaviour "
            "for the whole cluster; set it once, in group all"
        )
    return all(values.values())


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def _role_tasks(tasks_dir: Path) -> list[_Task]:
    main = next((tasks_dir / name for name in ("main.yml", "main.yaml") if (tasks_dir / name).is_file()), None)
    return list(_tasks_of_file(tasks_dir, main, frozenset(), seen=set())) if main else []


class _TaskFileLoader(yaml.SafeLoader):
    """Safe YAML that reads Ansible's `!unsafe` and `!vault` values as the text they hold."""


_TaskFileLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
_TaskFileLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def _tasks_of_file(tasks_dir: Path, path: Path, tags: frozenset[str], seen: set[Path]) -> Iterator[_Task]:
    if path in seen or not path.is_file():  # a name with a template in it is not followed
        return
    seen.add(path)
    for body in _task_list(yaml.load(path.read_text(), Loader=_TaskFileLoader)):
        yield from _expand(tasks_dir, body, tags, seen)


def _expand(tasks_dir: Path, body: dict[str, Any], tags: frozenset[str], seen: set[Path]) -> Iterator[_Task]:
    tags = tags | _tags_of(body)
    imported = next((body[key] for key in IMPORTS if key in body), None)
    if isinstance(imported, dict):
        imported = imported.get("file")
    if isinstance(imported, str):
        yield from _tasks_of_file(tasks_dir, tasks_dir / imported, tags, seen)
        return
    nested = [task for key in TASK_LISTS for task in _task_list(body.get(key))]
    if nested:
        for task in nested:
            yield from _expand(tasks_dir, task, tags, seen)
        return
    yield _Task(body, tags)


def _task_list(value: Any) -> list[dict[str, Any]]:
    return [task for task in value if isinstance(task, dict)] if isinstance(value, list) else []


def _tags_of(body: dict[str, Any]) -> frozenset[str]:
    tags = body.get("tags") or []
    return frozenset([tags] if isinstance(tags, str) else [str(tag) for tag in tags])


def _runs(task_tags: frozenset[str], selected: list[str] | None) -> bool:
    """Ansible's --tags rule: a task runs when it carries a selected tag or `always`."""
    return not selected or bool(task_tags & {*selected, "always"})


def _module_args(body: dict[str, Any], names: set[str]) -> dict[str, Any] | None:
    args = next((body[name] for name in names if name in body), None)
    return args if isinstance(args, dict) else None


def _targets_etc_hosts(args: dict[str, Any]) -> bool:
    return (args.get("path") or args.get("dest")) == "/etc/hosts"


def _writes_inventory_block(body: dict[str, Any]) -> bool:
    args = _module_args(body, BLOCKINFILE)
    return bool(args) and _targets_etc_hosts(args) and INVENTORY_MARKER in str(args.get("marker", ""))


def _writes_apiserver_name(body: dict[str, Any]) -> bool:
    args = _module_args(body, LINEINFILE)
    return bool(args) and _targets_etc_hosts(args) and "apiserver_loadbalancer_domain_name" in str(args.get("line", ""))
