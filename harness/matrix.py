"""The matrix: scenario x Kubespray ref, each cell one isolated `harness run` process.

Cells run as separate processes, N at a time: each has its own run id, network,
worktree, fact cache and run directory, and on Ctrl-C each cleans up after itself.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness import interrupts
from harness import scenario as scenarios
from harness.errors import HarnessError
from harness.kubespray import source
from harness.settings import Settings
from harness.text import read_model
from harness.verdict import Verdict

VERDICTS = tuple(v.value for v in Verdict)
# What a cell may expect: a verdict about Kubespray (never unreachable or checks-skipped).
Expect = Literal["passed", "expected-failure", "unexpected-failure", "unexpected-pass"]


class CellSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    scenario: str
    ref: str
    expect: Expect | None = None
    # An upgrade across releases: deployed at this older release, upgraded at `ref` (`harness run --from`).
    upgrade_from: str | None = Field(default=None, alias="from")

    @property
    def label(self) -> str:
        refs = f"{self.upgrade_from}->{self.ref}" if self.upgrade_from else self.ref
        return f"{self.scenario}@{refs}"


# Words a moving cell may use for refs read from the clone each time the matrix starts.
SUPPORTED_BRANCHES = "supported-release-branches"  # the latest three release-X.Y branches
LATEST_TAGS = "latest-release-tags"  # the latest vX.Y.Z of each of them


class MovingCells(BaseModel):
    """Each scenario at each ref, the refs being names or the words above, read from the clone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: list[str]
    refs: list[str]
    expect: Expect = "passed"


class MatrixFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cells: list[CellSpec] = []
    moving: list[MovingCells] = []


RefLister = Callable[[str], list[str]]  # SUPPORTED_BRANCHES or LATEST_TAGS -> ref names


def clone_refs(settings: Settings) -> RefLister:
    """Read the moving refs' words from the Kubespray clone."""
    listers = {SUPPORTED_BRANCHES: source.supported_release_branches, LATEST_TAGS: source.latest_release_tags}
    return lambda word: listers[word](settings)


@dataclass
class CellResult:
    spec: CellSpec
    expected: str
    sha: str
    expect_pass_flag: bool = False
    change_args: list[str] = field(default_factory=list)  # --patch F / --cherry-pick SHA for `harness run`
    report: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    log: str = ""
    state: str = "queued"  # queued -> running -> done
    started: float = 0.0
    finished: float = 0.0
    # What a nightly comparison made of the cell (harness.nightly): change, rerun, bisection.
    night: dict[str, Any] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        if not self.started:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def verdict(self) -> str:
        return str(self.report.get("verdict") or "error")

    @property
    def matches(self) -> bool:
        return self.verdict == self.expected

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        """A cell back from its JSON (`harness matrix --report-json`), e.g. one CI job's."""
        spec = CellSpec(scenario=data["scenario"], ref=data["ref"], upgrade_from=data.get("from_ref"))
        night = data.get("night") or {}
        return cls(spec, data["expected"], data["sha"], report=data, log=data.get("cell_log", ""), night=night)

    def again(self) -> CellResult:
        """The same cell (same sha, same expectation), not yet run."""
        return CellResult(self.spec, self.expected, self.sha, self.expect_pass_flag, self.change_args)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.report,
            "scenario": self.spec.scenario,
            "ref": self.spec.ref,
            "sha": self.sha,
            "verdict": self.verdict,
            "expected": self.expected,
            "matches": self.matches,
            "cell_log": self.log,
            **({"night": self.night} if self.night else {}),
        }


def load(path: Path, scenarios_dir: Path, list_refs: RefLister | None = None) -> list[CellSpec]:
    """The matrix file's cells; moving cells are expanded with `list_refs` (left out without it)."""
    parsed = read_model(path, MatrixFile, "the matrix file")
    cells = list(parsed.cells)
    if list_refs is not None:
        cells += [cell for moving in parsed.moving for cell in _expand(moving, list_refs)]
    known = scenarios.available(scenarios_dir)
    seen: set[str] = set()
    for cell in cells:
        if cell.scenario not in known:
            raise HarnessError(f"{path}: cell {cell.label}: unknown scenario (available: {', '.join(known)})")
        if cell.label in seen:
            raise HarnessError(f"{path}: cell {cell.label} is listed twice")
        seen.add(cell.label)
    return cells


def _expand(moving: MovingCells, list_refs: RefLister) -> list[CellSpec]:
    refs = [
        found
        for ref in moving.refs
        for found in (list_refs(ref) if ref in (SUPPORTED_BRANCHES, LATEST_TAGS) else [ref])
    ]
    return [CellSpec(scenario=name, ref=ref, expect=moving.expect) for name in moving.scenarios for ref in refs]


def add_cell(path: Path, scenarios_dir: Path, scenario: str, ref: str) -> None:
    """Append a fixed cell to the file's `cells:` list, keeping its comments and other sections."""
    line = f"  - {{scenario: {scenario}, ref: {ref}}}\n"
    lines = path.read_text().splitlines(keepends=True)
    start = next((index for index, text in enumerate(lines) if text.rstrip() == "cells:"), None)
    if start is None:
        lines += ["cells:\n", line]
    else:
        last_item = start
        for index in range(start + 1, len(lines)):
            text = lines[index]
            if text.strip() and not text[0].isspace() and not text.startswith("#"):
                break  # the next top-level key
            if text.startswith("  - "):
                last_item = index
        lines.insert(last_item + 1, line)
    path.write_text("".join(lines))
    if CellSpec(scenario=scenario, ref=ref) not in load(path, scenarios_dir):
        raise HarnessError(f"could not add the cell {scenario}@{ref} to {path}: add it under `cells:` by hand")


def select(cells: list[CellSpec], patterns: list[str]) -> list[CellSpec]:
    """Cells whose `scenario@ref` label matches any shell pattern (all when none is given)."""
    if not patterns:
        return cells
    chosen = [cell for cell in cells if any(fnmatch.fnmatch(cell.label, p) for p in patterns)]
    if not chosen:
        raise HarnessError(f"--only {' '.join(patterns)} matches no cell; cells are named scenario@ref")
    return chosen


def expected_verdict(settings: Settings, cell: CellSpec, sha: str, from_sha: str | None = None) -> tuple[str, bool]:
    """The verdict the cell should get, and whether its run must be told `--expect pass`
    (the scenario states nothing for this ref)."""
    from harness.runner import expectation_for  # the runner imports heavy modules

    scenario = scenarios.load(settings.scenarios_dir, cell.scenario)
    expectation = expectation_for(settings, scenario, cell.ref, sha, cell.upgrade_from, from_sha)
    if expectation is not None:
        default = Verdict.PASSED.value if expectation.passes else Verdict.EXPECTED_FAILURE.value
        return cell.expect or default, False
    if cell.expect in (Verdict.PASSED.value, Verdict.UNEXPECTED_FAILURE.value):
        return cell.expect, True
    raise HarnessError(
        f"cell {cell.label}: the scenario states no expectation for this ref; add one to its scenario.yml, "
        "or give the cell `expect: passed` (or unexpected-failure)"
    )


def plan(settings: Settings, cells: list[CellSpec], changes: tuple[source.Change, ...] = ()) -> list[CellResult]:
    """Resolve every ref first, so a moving ref gets one sha for the whole matrix.

    With changes (a fix under test) every cell is expected to pass unless it says otherwise."""
    change_args = [arg for change in changes for arg in change.argv()]
    results = []
    for cell in cells:
        sha = source.resolve(settings, cell.ref)
        from_sha = source.resolve(settings, cell.upgrade_from) if cell.upgrade_from else None
        if changes:
            expected, expect_pass_flag = cell.expect or Verdict.PASSED.value, False
        else:
            expected, expect_pass_flag = expected_verdict(settings, cell, sha, from_sha)
        results.append(CellResult(cell, expected, sha, expect_pass_flag, change_args))
    return results


def run(
    planned: list[CellResult], jobs: int, out_dir: Path, progress: Callable[[str], None] = print
) -> list[CellResult]:
    """Run the planned cells, `jobs` at a time; each result's state follows along."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda result: _run_cell(result, out_dir, progress), planned))
    return planned


def run_harness(args: list[str], report: Path, log: Path) -> int:
    """`harness ARGS --report-json REPORT` as a process of its own (its own run id, network,
    worktree; it cleans up after itself when a signal stops this harness: harness.interrupts),
    its output in LOG; its exit code."""
    argv = [sys.executable, "-m", "harness", *args, "--report-json", str(report)]
    with log.open("w") as out:
        return interrupts.wait(interrupts.spawn(argv, stdout=out, stderr=subprocess.STDOUT))


def _run_cell(result: CellResult, out_dir: Path, progress: Callable[[str], None]) -> None:
    stem = result.spec.label.replace("@", "-").replace("->", "-to-").replace("/", "_")
    report, log = out_dir / f"{stem}.json", out_dir / f"{stem}.log"
    # The sha, not the ref: a moving ref must not move between resolution and run.
    args = ["run", result.spec.scenario, "--ref", result.sha]
    if result.spec.upgrade_from:
        args += ["--from", result.spec.upgrade_from]
    if result.expect_pass_flag:
        args += ["--expect", "pass"]
    args += result.change_args
    result.state, result.started = "running", time.monotonic()
    progress(f"start  {result.spec.label} ({result.sha[:12]}), log {log}")
    result.exit_code = run_harness(args, report, log)
    result.log = str(log)
    if report.is_file():
        result.report = json.loads(report.read_text())
        result.report["ref"] = result.spec.ref
    result.state, result.finished = "done", time.monotonic()
    mark = "ok" if result.matches else "MISMATCH"
    progress(
        f"done   {result.spec.label}: {result.verdict} (expected {result.expected}) in {result.elapsed:.0f}s  {mark}"
    )


def read_reports(paths: list[Path]) -> list[CellResult]:
    """Cells from any report of the harness, in order: a run's report.json, the --report-json of
    `harness run` or `harness matrix`, a repro.json (its run) or a bisection's result (its probes' runs)."""
    cells = []
    for path in paths:
        entries = _run_reports(path, _read_json(path))
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and e.get("expected") in VERDICTS and "sha" in e for e in entries
        ):
            raise HarnessError(
                f"{path} is not a run or matrix report (report.json of a run, or --report-json of harness run or "
                "matrix); a report.json from before its `schema` field says its expectation in words: run it again"
            )
        cells += [CellResult.from_dict(entry) for entry in entries]
    return cells


def _embedded_run(data: dict[str, Any]) -> Any:
    """The run report a repro or probe carries (older ones only point at its directory)."""
    return data.get("run") or _read_json(Path(data["run_dir"]) / "report.json")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"cannot read report {path}: {exc}") from exc


def _run_reports(path: Path, data: Any) -> Any:
    """The run reports a report file stands for (anything else is returned for the caller to refuse)."""
    if isinstance(data, dict) and isinstance(data.get("probes"), list):  # a bisection: its probes' runs
        return [_embedded_run(probe) for probe in data["probes"] if probe.get("run") or probe.get("run_dir")]
    if isinstance(data, dict) and "report" in data and (data.get("run") or data.get("run_dir")):  # a repro
        return [_embedded_run(data)]
    return [data] if isinstance(data, dict) else data  # one run's report.json, or a list of them
