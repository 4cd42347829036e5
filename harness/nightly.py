"""Tonight's matrix against last night's: which cells regressed, were fixed, stayed as they were.

A cell is *good* when its verdict is the one it expects (passed, or the expected failure its
scenario names). Cells are the same cell across nights when their `scenario@ref` labels are
equal; a moving ref (master, release-2.31) is a new sha on most nights.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from harness import bisect, matrix
from harness.errors import HarnessError
from harness.matrix import CellResult
from harness.scenario import FailureExpectation
from harness.settings import Settings
from harness.text import first_line

IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


class Change(str, Enum):
    REGRESSION = "regression"  # good at last night's sha, bad at tonight's other sha: bisect between them
    BROKE_AT_SAME_COMMIT = "broke-at-same-commit"  # good last night, bad tonight at the very same sha
    STILL_FAILING = "still-failing"
    FIXED = "fixed"
    UNCHANGED = "unchanged"  # good both nights
    NEW_CELL = "new-cell"
    REMOVED_CELL = "removed-cell"


# The order a summary lists them in: what needs a person first.
ORDER = [
    Change.REGRESSION,
    Change.BROKE_AT_SAME_COMMIT,
    Change.STILL_FAILING,
    Change.NEW_CELL,
    Change.FIXED,
    Change.REMOVED_CELL,
    Change.UNCHANGED,
]


@dataclass(frozen=True)
class CellChange:
    label: str
    change: Change
    before: CellResult | None  # last night's cell; None for a new cell
    after: CellResult | None  # tonight's; None for a removed cell

    @property
    def needs_rerun(self) -> bool:
        """A good cell gone bad is run once more before anyone is told: a pass then is a flake."""
        return self.change in (Change.REGRESSION, Change.BROKE_AT_SAME_COMMIT)


def compare(baseline: list[CellResult], tonight: list[CellResult]) -> list[CellChange]:
    """Every cell of either night, with what changed, in ORDER then tonight's order."""
    before = {cell.spec.label: cell for cell in baseline}
    after = {cell.spec.label: cell for cell in tonight}
    changes = [_change(label, before.get(label), cell) for label, cell in after.items()]
    changes += [
        CellChange(label, Change.REMOVED_CELL, cell, None) for label, cell in before.items() if label not in after
    ]
    return sorted(changes, key=lambda change: ORDER.index(change.change))


def _change(label: str, before: CellResult | None, after: CellResult) -> CellChange:
    if before is None:
        return CellChange(label, Change.NEW_CELL, None, after)
    if before.matches and after.matches:
        change = Change.UNCHANGED
    elif before.matches:
        change = Change.BROKE_AT_SAME_COMMIT if before.sha == after.sha else Change.REGRESSION
    else:
        change = Change.FIXED if after.matches else Change.STILL_FAILING
    return CellChange(label, change, before, after)


@dataclass
class Finding:
    """A cell of tonight's matrix with what the night made of it."""

    change: CellChange
    rerun: CellResult | None = None  # a good cell gone bad, run once more at the same sha
    bisection: dict[str, Any] = field(default_factory=dict)  # bisect.BisectResult.as_dict()
    not_bisected: str = ""  # why a regression was not bisected

    @property
    def flaky(self) -> bool:
        return self.rerun is not None and self.rerun.matches

    @property
    def status(self) -> str:
        return "flaky" if self.flaky else self.change.change.value

    @property
    def final(self) -> CellResult | None:
        """Tonight's last word on the cell (its rerun, if any): tomorrow's baseline."""
        return self.rerun or self.change.after

    def record(self) -> dict[str, Any]:
        """What goes into the cell's `night` entry of the report."""
        before = self.change.before
        night: dict[str, Any] = {"status": self.status}
        if before is not None:
            night["baseline"] = {"sha": before.sha, "verdict": before.verdict}
        if self.change.change == Change.STILL_FAILING and before is not None:
            was, now = before.report.get("failed_task"), self.final.report.get("failed_task")
            if was != now:  # one bug may hide another: say when the failure moved
                night["failure_moved"] = {"from": was, "to": now}
        if self.rerun is not None:
            first = self.change.after
            night["first_run"] = {"verdict": first.verdict, "run_dir": first.report.get("run_dir")}
        if self.bisection:
            night["bisect"] = self.bisection
        if self.not_bisected:
            night["not_bisected"] = self.not_bisected
        return night


def watch(
    settings: Settings,
    baseline: list[CellResult],
    planned: list[CellResult],
    jobs: int,
    out_dir: Path,
    budget: int | None,
    progress: Callable[[str], None] = print,
) -> list[Finding]:
    """Run tonight's cells, compare with the baseline, rerun every good cell gone bad once,
    and bisect each regression that fails again between last night's sha and tonight's."""
    tonight = matrix.run(planned, jobs, out_dir, progress)
    findings = [Finding(change) for change in compare(baseline, tonight) if change.after is not None]
    suspects = [finding for finding in findings if finding.change.needs_rerun]
    if suspects:
        progress(f"rerunning {len(suspects)} cell(s) that were good last night")
        again = matrix.run([finding.change.after.again() for finding in suspects], jobs, out_dir / "rerun", progress)
        for finding, cell in zip(suspects, again, strict=True):
            finding.rerun = cell
    for finding in findings:
        if finding.change.change == Change.REGRESSION and not finding.flaky:
            _bisect(settings, finding, budget, progress)
    for finding in findings:
        finding.final.night = finding.record()
    return findings


def removed_cells(baseline: list[CellResult], tonight: list[CellResult]) -> list[str]:
    return [change.label for change in compare(baseline, tonight) if change.change == Change.REMOVED_CELL]


def _bisect(settings: Settings, finding: Finding, budget: int | None, progress: Callable[[str], None]) -> None:
    before, after = finding.change.before, finding.change.after
    assert before is not None and after is not None
    bug = failure_of(after.report)
    if isinstance(bug, str):
        finding.not_bisected = bug
        return
    if after.change_args:
        finding.not_bisected = "the cell ran with a patch or cherry-pick: bisect it by hand"
        return
    options = bisect.BisectOptions(
        after.spec.scenario,
        before.sha,
        after.sha,
        "regression",
        trust_ends=True,
        bug=bug,
        budget=budget,
        upgrade_from=after.spec.upgrade_from,  # an upgrade cell: which commit broke upgrades from its release
    )
    progress(f"bisecting {after.spec.label} between {before.sha[:12]} and {after.sha[:12]}")
    try:
        finding.bisection = bisect.bisect(settings, options, progress).as_dict()
    except HarnessError as exc:
        finding.not_bisected = exc.message


def failure_of(report: dict[str, Any]) -> FailureExpectation | str:
    """Tonight's failure as the bug a bisection looks for (task, step, hosts, the first line of
    its message without run-specific addresses), or why it cannot be one."""
    if report.get("verdict") in ("unreachable", "checks-skipped", "not-exercised"):
        return f"the run did not see everything ({report['verdict']}): rerun it before bisecting"
    hosts = tuple(report.get("failed_hosts") or ())
    task, step = report.get("failed_task") or "", report.get("failed_step") or ""
    if not hosts or not task or not step:
        return (
            f"the failure ({task or 'none recorded'}, in {step or 'no step'}) is not a Kubespray task on named "
            "hosts (host checks, Molecule or an unreachable host): bisect it by hand with harness bisect"
        )
    message = max(IPV4.split(first_line(report.get("failed_message") or "")), key=len).strip()[:200]
    if not message:
        return f"the failure at {task!r} says nothing to match on: bisect it by hand with harness bisect"
    return FailureExpectation(task=task, step=step, hosts=hosts, message=message)
