"""`harness bench`: how long a run takes, phase by phase, and what the harness adds to Kubespray.

Every sample is a whole `harness run` process, started as a user starts it; its report.json
says when each phase (setup, create, each Kubespray step, verify, destroy) started and how long
it took, so the gaps between phases are measured too, not guessed. `overhead_ratio` is the
median wall over the median sum of the Kubespray steps: 1.0 would be a harness that costs
nothing. The JSON is versioned (SCHEMA_VERSION) and documented in README "Performance".
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness import events, provider, steps
from harness.clock import Stopwatch
from harness.errors import HarnessError
from harness.runner import HARNESS_PHASES
from harness.settings import Settings
from harness.text import read_model

SCHEMA_VERSION = 1
DEFAULT_RUNS = 3
PLAN_FILE = "bench.yml"  # in the scenarios folder
SLOWEST_TASKS = 20


class _PlanCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str
    ref: str


class _PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cases: list[_PlanCase] = Field(min_length=1)
    matrix: list[str] = Field(default_factory=list)  # matrix.yml cells, scenario@ref


@dataclass(frozen=True)
class Case:
    scenario: str
    ref: str

    @property
    def label(self) -> str:
        return f"{self.scenario}@{self.ref}"


@dataclass(frozen=True)
class Plan:
    cases: tuple[Case, ...]
    matrix_cells: tuple[str, ...] = ()


def load_plan(path: Path) -> Plan:
    data = read_model(path, _PlanFile, "the bench plan")
    return Plan(tuple(Case(c.scenario, c.ref) for c in data.cases), tuple(data.matrix))


@dataclass(frozen=True)
class Interval:
    """One stretch of a run: a phase the harness recorded, or a gap between two of them."""

    name: str
    kind: str  # "harness", "kubespray" or "gap"
    seconds: float


@dataclass
class Sample:
    """One `harness run` process, timed from outside, with the report it wrote."""

    timed: Timed
    report: dict[str, Any]

    @property
    def wall(self) -> float:
        return self.timed.wall

    @property
    def cpu(self) -> CpuUse:
        return self.timed.cpu

    @property
    def steps_seconds(self) -> float:
        return round(sum(i.seconds for i in self.intervals() if i.kind == "kubespray"), 1)

    def intervals(self) -> list[Interval]:
        """The run from process start to exit: its phases in order, each gap between them named
        for its two sides (`create → deploy`: Molecule's prepare starting, say)."""
        timeline = sorted((p for p in self.report.get("steps", []) if p.get("started")), key=lambda p: p["started"])
        intervals, edge, before = [], self.timed.started, "start"
        for phase in timeline:
            intervals.append(Interval(f"{before} → {phase['name']}", "gap", round(phase["started"] - edge, 1)))
            kind = "harness" if phase["name"] in HARNESS_PHASES else "kubespray"
            intervals.append(Interval(phase["name"], kind, phase["seconds"]))
            edge, before = phase["started"] + phase["seconds"], phase["name"]
        intervals.append(Interval(f"{before} → exit", "gap", round(self.timed.started + self.wall - edge, 1)))
        return intervals


@dataclass(frozen=True)
class CpuUse:
    """The machine's CPU over an interval, from /proc/stat: busy and iowait shares of all cores."""

    busy: float
    iowait: float

    def as_dict(self) -> dict[str, float]:
        return {"busy": round(self.busy, 2), "iowait": round(self.iowait, 2)}


def _cpu_times() -> list[int]:
    try:
        return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return []


def _cpu_use(before: list[int], after: list[int]) -> CpuUse:
    if not before or not after:
        return CpuUse(0.0, 0.0)
    delta = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(delta) or 1
    idle, iowait = delta[3], delta[4]
    return CpuUse(busy=(total - idle - iowait) / total, iowait=iowait / total)


@dataclass(frozen=True)
class Timed:
    """A whole command timed from outside: its wall, exit code and the machine's CPU meanwhile."""

    wall: float
    rc: int
    started: float  # Unix time
    cpu: CpuUse


def _timed(argv: list[str], output: Path, env: dict[str, str] | None = None) -> Timed:
    output.parent.mkdir(parents=True, exist_ok=True)
    cpu_before, clock = _cpu_times(), Stopwatch()
    with output.open("wb") as out:
        rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env).returncode
    return Timed(clock.seconds(), rc, clock.at, _cpu_use(cpu_before, _cpu_times()))


def harness_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


def run_sample(case: Case, out_dir: Path, name: str, env: dict[str, str] | None = None) -> Sample:
    report_file, log = out_dir / f"{name}.json", out_dir / f"{name}.log"
    timed = _timed(harness_argv("run", case.scenario, "--ref", case.ref, "--report-json", str(report_file)), log, env)
    if not report_file.is_file():
        raise HarnessError(f"the {name} run of {case.label} wrote no report (exit {timed.rc}): see {log}")
    return Sample(timed, json.loads(report_file.read_text()))


def _spread(values: Iterable[float]) -> dict[str, float]:
    values = list(values)
    return {
        "min_s": round(min(values), 1),
        "median_s": round(statistics.median(values), 1),
        "max_s": round(max(values), 1),
    }


def phase_table(samples: list[Sample]) -> list[dict[str, Any]]:
    """Each phase and gap, in run order, with its min/median/max over the samples that had it."""
    by_name: dict[str, list[float]] = {}
    kinds: dict[str, str] = {}
    for sample in samples:
        for interval in sample.intervals():
            by_name.setdefault(interval.name, []).append(interval.seconds)
            kinds[interval.name] = interval.kind
    return [{"name": name, "kind": kinds[name], **_spread(values)} for name, values in by_name.items()]


def task_seconds(step_events: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(play, task) -> seconds it took in one step: from its start to the next task's (or the
    play's end); a task name met several times in a step (an included file run twice) adds up.
    Handlers have no start event of their own: their time counts to the task before them."""
    starts = [e for e in step_events if e.get("event") in ("task_start", "play_start", "stats") and "time" in e]
    seconds: dict[tuple[str, str], float] = {}
    for this, following in itertools.pairwise(starts):
        if this["event"] != "task_start":
            continue
        key = (str(this.get("play", "")), str(this.get("task", "")))
        seconds[key] = seconds.get(key, 0.0) + following["time"] - this["time"]
    return seconds


def slowest_tasks(samples: list[Sample], limit: int = SLOWEST_TASKS) -> dict[str, list[dict[str, Any]]]:
    """Per Kubespray step, its `limit` slowest tasks by median over the samples."""
    per_step: dict[str, dict[tuple[str, str], list[float]]] = {}
    for sample in samples:
        for phase in sample.report.get("steps", []):
            if phase["name"] in HARNESS_PHASES or not phase.get("log"):
                continue
            recorded = events.read_events(steps.events_file_of(Path(phase["log"])))
            tasks = per_step.setdefault(phase["name"], {})
            for key, seconds in task_seconds(recorded).items():
                tasks.setdefault(key, []).append(seconds)
    table = {}
    for step, tasks in per_step.items():
        rows = [{"play": play, "task": task, **_spread(values)} for (play, task), values in tasks.items()]
        table[step] = sorted(rows, key=lambda row: row["median_s"], reverse=True)[:limit]
    return table


@dataclass
class CaseResult:
    case: Case
    warm: list[Sample]
    cold: Sample | None = None

    @property
    def matches(self) -> bool:
        return all(s.report.get("matches") for s in self.all_samples)

    @property
    def all_samples(self) -> list[Sample]:
        return ([self.cold] if self.cold else []) + self.warm

    def as_dict(self) -> dict[str, Any]:
        wall = statistics.median(s.wall for s in self.warm)
        steps = statistics.median(s.steps_seconds for s in self.warm)
        return {
            "scenario": self.case.scenario,
            "ref": self.case.ref,
            "sha": self.warm[0].report.get("sha"),
            "runs": len(self.warm),
            "verdicts": [s.report.get("verdict") for s in self.all_samples],
            "matches": self.matches,
            "wall_s": [s.wall for s in self.warm],
            "wall_median_s": round(wall, 1),
            "steps_s": [s.steps_seconds for s in self.warm],
            "steps_median_s": round(steps, 1),
            "harness_median_s": round(wall - steps, 1),
            "overhead_ratio": round(wall / steps, 3) if steps else None,
            "cpu": [s.cpu.as_dict() for s in self.warm],
            "phases": phase_table(self.warm),
            "slowest_tasks": slowest_tasks(self.warm),
            "run_dirs": [s.report.get("run_dir") for s in self.all_samples],
            "cold": self.cold and _cold_dict(self.cold),
        }


def _cold_dict(sample: Sample) -> dict[str, Any]:
    return {
        "wall_s": sample.wall,
        "verdict": sample.report.get("verdict"),
        "phases": [{"name": i.name, "kind": i.kind, "seconds": i.seconds} for i in sample.intervals()],
        "cpu": sample.cpu.as_dict(),
    }


def bench_case(
    settings: Settings, case: Case, runs: int, out_dir: Path, cold: bool, progress: Callable[[str], None]
) -> CaseResult:
    result = CaseResult(case, [])
    if cold:
        progress(f"{case.label}: cold run (empty cache and image repository)")
        result.cold = _cold_sample(settings, case, out_dir)
        progress(f"  cold: {result.cold.wall:.0f} s, {result.cold.report.get('verdict')}")
    for index in range(1, runs + 1):
        progress(f"{case.label}: warm run {index}/{runs}")
        sample = run_sample(case, out_dir, f"{_slug(case)}-warm-{index}")
        result.warm.append(sample)
        progress(f"  {sample.wall:.0f} s, Kubespray steps {sample.steps_seconds:.0f} s, {sample.report.get('verdict')}")
    return result


def _cold_sample(settings: Settings, case: Case, out_dir: Path) -> Sample:
    """A run from nothing: a throwaway cache (clone, venvs, worktrees, uv's downloads) and image
    repository, so the base images, the node images and the ref's controller are built anew;
    all of it removed afterwards."""
    repository = f"kh-bench-{os.getpid()}"
    settings.cache_dir.parent.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="bench-cold-", dir=settings.cache_dir.parent))
    env = dict(os.environ)
    env.update(
        HARNESS_CACHE_DIR=str(cache / "harness"),
        HARNESS_IMAGE_REPOSITORY=repository,
        UV_CACHE_DIR=str(cache / "uv"),
    )
    try:
        return run_sample(case, out_dir, f"{_slug(case)}-cold", env)
    finally:
        provider.remove_repository_images(provider.connect(), repository)
        shutil.rmtree(cache, ignore_errors=True)


def _slug(case: Case) -> str:
    return f"{case.scenario}-{case.ref}".replace("/", "_")


@dataclass
class MatrixTiming:
    cells: tuple[str, ...]
    by_jobs: dict[int, Timed] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        one, two = self.by_jobs.get(1), self.by_jobs.get(2)
        return {
            "cells": list(self.cells),
            "runs": {str(j): {"wall_s": t.wall, "rc": t.rc, "cpu": t.cpu.as_dict()} for j, t in self.by_jobs.items()},
            "speedup": round(one.wall / two.wall, 2) if one and two and two.wall else None,
            "matches": all(t.rc == 0 for t in self.by_jobs.values()),
        }


def bench_matrix(cells: tuple[str, ...], out_dir: Path, progress: Callable[[str], None]) -> MatrixTiming:
    timing = MatrixTiming(cells)
    only = [arg for cell in cells for arg in ("--only", cell)]
    for jobs in (1, 2):
        progress(f"matrix: {len(cells)} cells at -j {jobs}")
        argv = harness_argv("matrix", "-j", str(jobs), *only, "--report-json", str(out_dir / f"matrix-j{jobs}.json"))
        timing.by_jobs[jobs] = _timed(argv, out_dir / f"matrix-j{jobs}.log")
        progress(f"  -j {jobs}: {timing.by_jobs[jobs].wall:.0f} s (exit {timing.by_jobs[jobs].rc})")
    return timing


def machine_facts() -> dict[str, Any]:
    """What the figures depend on: cores, memory, the engine, kernel and cgroup version."""
    facts = provider.engine_facts(provider.connect())
    facts.update(cores=os.cpu_count(), kernel=platform.release(), python=platform.python_version())
    return facts


def bench(
    settings: Settings,
    cases: tuple[Case, ...],
    runs: int,
    out_dir: Path,
    cold: bool = False,
    matrix_cells: tuple[str, ...] = (),
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time the cases (and the matrix cells, if any); the bench's JSON document."""
    if runs < 1:
        raise HarnessError(f"--runs {runs}: give at least one run")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results = [bench_case(settings, case, runs, out_dir, cold, progress) for case in cases]
    matrix = bench_matrix(matrix_cells, out_dir, progress) if matrix_cells else None
    return {
        "schema": "kubespray-harness/bench",
        "version": SCHEMA_VERSION,
        "date": started,
        "machine": machine_facts(),
        "directory": str(out_dir),
        "cases": [result.as_dict() for result in results],
        "matrix": matrix.as_dict() if matrix else None,
    }


def all_matched(document: dict[str, Any]) -> bool:
    """Every run got the verdict its scenario expects (a timing of a broken run means nothing)."""
    matrix = document.get("matrix")
    return all(case["matches"] for case in document["cases"]) and (matrix is None or matrix["matches"])
