"""Reading what the harness_events callback recorded during one ansible-playbook run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALLBACK_DIR = Path(__file__).parent / "ansible_plugins" / "callback"
CALLBACK_NAME = "harness_events"
# What a failed result may say, in the order a person reads it: a task can fail
# with no `msg` at all (a command's rc and stderr, a module's crash).
MESSAGE_FIELDS = ("msg", "stderr", "module_stdout", "exception")


@dataclass(frozen=True)
class Failure:
    """One task that failed, on every host it failed on at that point of the run."""

    task: str
    hosts: tuple[str, ...]
    message: str  # the first of MESSAGE_FIELDS that says something
    rc: int | None = None
    text: str = ""  # every one of MESSAGE_FIELDS: what an expected message is looked for in

    @property
    def host(self) -> str:
        return self.hosts[0] if self.hosts else ""


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by Ctrl-C
    return events


def first_failure(events: list[dict[str, Any]]) -> Failure | None:
    """The failure that made the playbook fail, with every host that failed there.

    Ignored failures (ignore_errors) do not count. A host stops at its fatal
    failure, so on each host that ended the run failed, its *last* failure is
    the fatal one (earlier ones were rescued); the earliest of those wins, and
    the hosts whose fatal failure is that same task run are listed with it.
    """
    failed_hosts = _hosts_failed_at_end(events)
    fatal: dict[str, tuple[int, int, dict[str, Any]]] = {}  # host -> (index, task run, event)
    task_run = -1
    for index, event in enumerate(events):
        if event["event"] == "task_start":
            task_run = index
        if event["event"] not in ("failed", "unreachable") or event.get("ignore_errors"):
            continue
        if failed_hosts is None:  # the run never reached its stats: the first failure is all we know
            fatal.setdefault(event["host"], (index, task_run, event))
        elif event["host"] in failed_hosts:
            fatal[event["host"]] = (index, task_run, event)
    if not fatal:
        return None
    _, first_run, first = min(fatal.values(), key=lambda item: item[0])
    there = [event for _, run, event in sorted(fatal.values(), key=lambda item: item[0]) if run == first_run]
    return _failure(first, [event["host"] for event in there], there)


def unreachable(events: list[dict[str, Any]]) -> Failure | None:
    """The first task at which a host was unreachable, ignored or not, with every host unreachable there.

    Under `ignore_unreachable` (or `ignore_errors`) the playbook goes on and may even
    succeed, but what the harness meant to see on that host was never seen."""
    first_run, first, hosts = None, None, []
    task_run = -1
    for index, event in enumerate(events):
        if event["event"] == "task_start":
            task_run = index
        if event["event"] != "unreachable":
            continue
        if first_run is None:
            first_run, first = task_run, event
        if task_run == first_run and event["host"] not in hosts:
            hosts.append(event["host"])
    return _failure(first, hosts) if first is not None else None


def task_runs(events: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(task, host) -> "ran", "failed" or "skipped", for each host a task had a result on; (task, "")
    -> "started" for each task that started. A task that ran on a host once counts as ran there, and
    as failed there if any of its results failed unforgiven (not ignore_errors)."""
    runs: dict[tuple[str, str], str] = {}
    for event in events:
        task = str(event.get("task", "")).strip()
        if event["event"] == "task_start":
            runs.setdefault((task, ""), "started")
        elif event["event"] in ("failed", "unreachable") and not event.get("ignore_errors"):
            runs[(task, event["host"])] = "failed"
        elif event["event"] in ("ok", "failed", "unreachable"):
            if runs.get((task, event["host"])) != "failed":
                runs[(task, event["host"])] = "ran"
        elif event["event"] == "skipped":
            runs.setdefault((task, event["host"]), "skipped")
    return runs


def _failure(event: dict[str, Any], hosts: list[str], there: list[dict[str, Any]] | None = None) -> Failure:
    """The failure as `event` says it; its text is what every host's event there said (each host
    may say it with its own name in it)."""
    message = next((text for text in _said(event) if text), "")
    rc = event.get("rc")
    texts = [text for each in there or [event] for text in _said(each) if text]
    return Failure(
        task=event["task"],
        hosts=tuple(hosts),
        message=message or (f"rc={rc}" if rc is not None else ""),
        rc=rc if isinstance(rc, int) else None,
        text="\n".join(dict.fromkeys(texts)),
    )


def _said(event: dict[str, Any]) -> list[str]:
    # A loop's failed items first: its own msg says only that one or more items failed.
    return [str(event.get(name) or "").strip() for name in ("items", *MESSAGE_FIELDS)]


def _hosts_failed_at_end(events: list[dict[str, Any]]) -> set[str] | None:
    """Hosts with failures or unreachable in the final stats; None if the run never got there."""
    stats = [event for event in events if event["event"] == "stats"]
    if not stats:
        return None
    hosts = stats[-1]["hosts"]
    return {host for host, counts in hosts.items() if counts.get("failures") or counts.get("unreachable")}
