"""Reading what the harness_events callback recorded during one ansible-playbook run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALLBACK_DIR = Path(__file__).parent / "ansible_plugins" / "callback"
CALLBACK_NAME = "harness_events"


@dataclass(frozen=True)
class Failure:
    task: str
    host: str
    message: str
    play: str = ""


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
    """The failure that made the playbook fail.

    Ignored failures (ignore_errors) do not count. A host stops at its fatal
    failure, so on each host that ended the run failed, its *last* failure is
    the fatal one (earlier ones were rescued); the earliest of those wins.
    """
    failed_hosts = _hosts_failed_at_end(events)
    fatal: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, event in enumerate(events):
        if event["event"] not in ("failed", "unreachable") or event.get("ignore_errors"):
            continue
        if failed_hosts is None:  # the run never reached its stats: the first failure is all we know
            fatal.setdefault(event["host"], (index, event))
        elif event["host"] in failed_hosts:
            fatal[event["host"]] = (index, event)
    if not fatal:
        return None
    _, event = min(fatal.values(), key=lambda item: item[0])
    message = event.get("msg") or event.get("stderr") or ""
    return Failure(task=event["task"], host=event["host"], message=message, play=event.get("play", ""))


def _hosts_failed_at_end(events: list[dict[str, Any]]) -> set[str] | None:
    """Hosts with failures or unreachable in the final stats; None if the run never got there."""
    stats = [event for event in events if event["event"] == "stats"]
    if not stats:
        return None
    hosts = stats[-1]["hosts"]
    return {host for host, counts in hosts.items() if counts.get("failures") or counts.get("unreachable")}


def task_output(events: list[dict[str, Any]], task: str, around: int = 3) -> list[dict[str, Any]]:
    """The named task's results with the few tasks before it, for reports."""
    starts = [i for i, event in enumerate(events) if event["event"] == "task_start" and event["task"] == task]
    if not starts:
        return []
    first = starts[0]
    begin = max(0, first - around * 6)
    return [event for event in events[begin:] if event["event"] != "stats"][: around * 12]
