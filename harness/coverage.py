"""How deep a run went: per step, the task results Ansible recorded, and the share of the
tasks the step's playbook lists at the ref that the step's tags select."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.kubespray import listing
from harness.settings import Settings

RESULTS = ("ok", "changed", "failed", "skipped", "unreachable")


@dataclass(frozen=True)
class StepCoverage:
    step: str
    playbook: str
    results: dict[str, int]  # per task and host: ok (unchanged), changed, failed, skipped, unreachable
    tasks_ran: int  # tasks with a result other than skipped on some host
    listed: int | None = None  # tasks the playbook lists at the ref (None: could not be listed)
    selected: int | None = None  # of those, the ones the step's tags select

    @property
    def share(self) -> float | None:
        return round(self.selected / self.listed, 3) if self.listed else None

    def describe(self) -> str:
        counts = ", ".join(f"{name} {self.results[name]}" for name in RESULTS if self.results.get(name))
        depth = f"; tags select {self.selected} of {self.listed} listed tasks ({self.share:.0%})" if self.listed else ""
        return f"{self.tasks_ran} tasks ran (results per host: {counts or 'none'}){depth}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "results": self.results,
            "tasks_ran": self.tasks_ran,
            "listed": self.listed,
            "selected": self.selected,
            "share": self.share,
        }


def results_of(events: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Results per status (a task's last result on each host counts), and how many tasks ran."""
    last: dict[tuple[str, str], str] = {}
    for event in events:
        kind = event["event"]
        if kind in ("ok", "failed", "skipped", "unreachable"):
            status = "changed" if kind == "ok" and event.get("changed") else kind
            last[(str(event.get("task", "")), str(event.get("host", "")))] = status
    counts = Counter(last.values())
    ran = {task for (task, _), status in last.items() if status != "skipped"}
    return {name: counts.get(name, 0) for name in RESULTS}, len(ran)


def of_step(
    step: str,
    playbook: str,
    events: list[dict[str, Any]],
    tasks: listing.Listing | None,
    tags: list[str],
    skip_tags: list[str],
) -> StepCoverage:
    results, ran = results_of(events)
    if tasks is None or not tasks.tasks:
        return StepCoverage(step, playbook, results, ran)
    return StepCoverage(step, playbook, results, ran, len(tasks.tasks), len(tasks.selected(tags, skip_tags)))


def listing_or_none(settings: Settings, sha: str, playbook: str, log: Callable[[str], None]) -> listing.Listing | None:
    """The playbook's listing, or None (said once) when Ansible could not list it."""
    try:
        return listing.list_tasks(settings, sha, playbook, log)
    except HarnessError as exc:
        log(f"coverage of {playbook}: not listed ({exc.message})")
        return None
