"""The corpus: real Kubespray bug reports, each replayed on the commit it was reported against
(it must be *reproduced*) and on the commit that fixed it (*not reproduced*, with the reported
task exercised). Each replay is one isolated `harness repro` process, N at a time, like the
cells of a matrix; the results are matrix cells, so every matrix format writes them too.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import HarnessError
from harness.kubespray import source
from harness.matrix import CellResult, CellSpec, run_harness
from harness.settings import PROJECT_ROOT, Settings
from harness.text import read_model
from harness.verdict import ReproVerdict, Verdict

DEFAULT_INDEX = PROJECT_ROOT / "tests" / "data" / "reports" / "corpus" / "corpus.yml"
# What the run under a repro must say for the case to hold: the reported failure where the report
# saw it (buggy), and the reported task run and passing (fixed).
EXPECTED = {"buggy": ReproVerdict.REPRODUCED, "fixed": ReproVerdict.NOT_REPRODUCED}
RUN_VERDICT = {"buggy": Verdict.EXPECTED_FAILURE, "fixed": Verdict.UNEXPECTED_PASS}


class Case(BaseModel):
    """One report: where it came from, the commit it reproduces on and the commit that fixed it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    report: str  # the report's file, beside the index
    issue: str  # the original report (or the PR that describes the bug)
    fix: str  # the PR or commit that fixed it
    buggy: str  # a commit (or tag) the report reproduces on
    fixed: str  # the fixing commit (or the first tag with it)


class Index(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cases: list[Case]


@dataclass
class Replay:
    """One report at one of its two commits."""

    case: Case
    side: str  # buggy | fixed
    report: Path
    sha: str = ""
    repro: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    log: str = ""
    seconds: float = 0.0

    @property
    def ref(self) -> str:
        return self.case.buggy if self.side == "buggy" else self.case.fixed

    @property
    def verdict(self) -> str:
        return str(self.repro.get("verdict") or "error")

    @property
    def holds(self) -> bool:
        return self.verdict == EXPECTED[self.side].value

    def cell(self) -> CellResult:
        """The replay as a matrix cell: scenario = the case, expected = what the run must say."""
        run = dict(self.repro.get("run") or {})
        run.setdefault("verdict", "error")
        run["ref"] = self.ref
        spec = CellSpec(scenario=self.case.name, ref=self.ref)
        expected = RUN_VERDICT[self.side]
        if self.holds and self.repro.get("stopped_beyond_containers"):
            # The reported task passed; the run then stopped at a task beyond containers (its row says which).
            expected = Verdict.UNEXPECTED_FAILURE
        return CellResult(spec, expected.value, self.sha, report=run, log=self.log)


def load(index: Path) -> list[Case]:
    cases = read_model(index, Index, "the corpus index").cases
    for case in cases:
        if not (index.parent / case.report).is_file():
            raise HarnessError(f"{index}: case {case.name}: no report {case.report} beside the index")
    return cases


def plan(settings: Settings, index: Path, patterns: list[str]) -> list[Replay]:
    """Both replays of every case whose name matches a pattern (all without), refs resolved first."""
    cases = [case for case in load(index) if not patterns or any(fnmatch.fnmatch(case.name, p) for p in patterns)]
    if not cases:
        raise HarnessError(f"--only {' '.join(patterns)} matches no case of {index}")
    replays = [Replay(case, side, index.parent / case.report) for case in cases for side in ("buggy", "fixed")]
    for replay in replays:
        replay.sha = source.resolve(settings, replay.ref)
    return replays


def run(replays: list[Replay], jobs: int, out_dir: Path, progress: Callable[[str], None] = print) -> list[Replay]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda replay: _replay(replay, out_dir, progress), replays))
    return replays


def _replay(replay: Replay, out_dir: Path, progress: Callable[[str], None]) -> None:
    stem = f"{replay.case.name}-{replay.side}"
    report, log = out_dir / f"{stem}.json", out_dir / f"{stem}.log"
    progress(f"start  {stem} ({replay.sha[:12]}), log {log}")
    started = time.monotonic()
    replay.exit_code = run_harness(["repro", str(replay.report), "--ref", replay.sha], report, log)
    replay.seconds = round(time.monotonic() - started, 1)
    replay.log = str(log)
    if report.is_file():
        replay.repro = json.loads(report.read_text())
    mark = "ok" if replay.holds else "MISMATCH"
    progress(
        f"done   {stem}: {replay.verdict} (expected {EXPECTED[replay.side].value}) in {replay.seconds:.0f}s  {mark}"
    )


def markdown(replays: list[Replay]) -> str:
    """The README's corpus table: one row per case, both replays side by side."""
    rows = [
        "| report | bug | fix | buggy ref | verdict | s | fixed ref | verdict | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_case: dict[str, dict[str, Replay]] = {}
    for replay in replays:
        by_case.setdefault(replay.case.name, {})[replay.side] = replay
    for name, sides in by_case.items():
        case = next(iter(sides.values())).case
        cells = [name, case.issue, case.fix]
        for side in ("buggy", "fixed"):
            replay = sides.get(side)
            mark = "" if replay is None or replay.holds else " ✗"
            cells += [case.buggy if side == "buggy" else case.fixed]
            cells += [f"{replay.verdict}{mark}", f"{replay.seconds:.0f}"] if replay else ["-", "-"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
