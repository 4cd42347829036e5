"""`harness bisect`: which commit broke (or fixed) a scenario, by `git bisect run`.

The predicate is the scenario's verdict on the commit, run against the
scenario's failure expectation (the bug): failing there marks the bug present,
passing marks it absent; failing anywhere else, or not running at all, skips
the commit (exit 125): it is never blamed. Bisection happens in a worktree of
its own (no checkout: each probe makes its own worktree at BISECT_HEAD).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import interrupts, runner
from harness import scenario as scenarios
from harness.errors import EXIT_MISMATCH, HarnessError
from harness.kubespray import source
from harness.scenario import Expectation, FailureExpectation, Scenario
from harness.settings import Settings
from harness.verdict import ReproVerdict, repro_verdict

# Terms of git bisect per mode: (old, new). A regression goes good -> bad;
# a fix goes broken -> fixed.
TERMS = {"regression": ("good", "bad"), "fix": ("broken", "fixed")}
# git bisect run's protocol: 0 old, 1 new, 125 skip, 128 and above stop the bisection.
EXIT_OLD, EXIT_NEW, EXIT_SKIP, EXIT_STOP = 0, 1, 125, 128
CONFIG_FILE = "bisect.json"
PROBES_FILE = "probes.jsonl"


@dataclass(frozen=True)
class BisectOptions:
    scenario: str
    good: str
    bad: str
    find: str = "regression"  # or "fix"
    # git bisect trusts the ends it is given; a wrong one names a wrong commit. By default both
    # ends are run first and must show the bug (bad) and not show it (good).
    trust_ends: bool = False
    # The failure to look for; default: the scenario's expectation for the bad ref.
    bug: FailureExpectation | None = None
    budget: int | None = None  # at most this many scenario runs (ends included)
    # Which commit broke upgrades from a given release: every probe deploys at this older
    # release and upgrades at the probed commit (harness run --from).
    upgrade_from: str | None = None


@dataclass
class Probe:
    sha: str
    verdict: str  # reproduced | not-reproduced | failed-elsewhere | error
    seconds: float
    run_dir: str
    detail: str = ""
    run: dict[str, Any] = field(default_factory=dict)  # the run's report.json (schema 1); {} if it never started

    @property
    def skipped(self) -> bool:
        return self.verdict not in (ReproVerdict.REPRODUCED.value, ReproVerdict.NOT_REPRODUCED.value)


@dataclass
class BisectResult:
    scenario: str
    find: str
    good: str
    bad: str
    first_commit: str | None
    subject: str = ""
    pr: str | None = None
    candidates: list[str] = field(default_factory=list)  # the commits it could not tell apart
    unresolved: str = ""  # why candidates are left: skipped commits, or the budget spent
    ends_problem: str = ""  # an end that did not behave as given: nothing was bisected
    probes: list[Probe] = field(default_factory=list)
    seconds: float = 0.0
    directory: str = ""

    @property
    def runs(self) -> int:
        return len(self.probes)

    @property
    def skipped(self) -> list[str]:
        return [probe.sha for probe in self.probes if probe.skipped]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": runner.REPORT_SCHEMA,  # each probe's run_dir holds that run's report.json
            "scenario": self.scenario,
            "find": self.find,
            "good": self.good,
            "bad": self.bad,
            "first_commit": self.first_commit,
            "subject": self.subject,
            "pr": self.pr,
            "candidates": self.candidates,
            "unresolved": self.unresolved,
            "ends_problem": self.ends_problem,
            "runs": self.runs,
            "skipped": self.skipped,
            "probes": [asdict(probe) for probe in self.probes],
            "seconds": self.seconds,
            "directory": self.directory,
        }


def bug_of(
    settings: Settings, scenario: Scenario, bad_ref: str, bad_sha: str, upgrade_from: tuple[str, str] | None = None
) -> FailureExpectation:
    """The failure the bisect looks for: the scenario's for the buggy ref (or the pair), or its only one."""
    expectation = runner.expectation_for(settings, scenario, bad_ref, bad_sha, *(upgrade_from or (None, None)))
    if expectation is not None and expectation.fail is not None:
        return expectation.fail
    failures = {exp.fail for exp in scenario.expectations.values() if exp.fail is not None}
    if len(failures) == 1:
        return failures.pop()
    raise HarnessError(
        f"scenario {scenario.name} names {len(failures) or 'no'} failure expectation(s) and none for {bad_ref}; "
        f"add `{bad_ref}: {{fail: {{task: ..., step: ..., hosts: [...], message: ...}}}}` to its expectations"
    )


def bisect(settings: Settings, options: BisectOptions, progress: Callable[[str], None] = print) -> BisectResult:
    if options.find not in TERMS:
        raise HarnessError(f"--find {options.find}: give regression or fix")
    scenario = scenarios.load(settings.scenarios_dir, options.scenario)
    good, bad = source.resolve(settings, options.good), source.resolve(settings, options.bad)
    upgrade_from = None
    if options.upgrade_from:
        upgrade_from = (options.upgrade_from, source.resolve(settings, options.upgrade_from))
    bug = options.bug or bug_of(settings, scenario, options.bad, bad, upgrade_from)
    old, new = (good, bad) if options.find == "regression" else (bad, good)
    repo = source.ensure_clone(settings)
    _check_order(repo, options, old, new)
    directory = settings.make_run_dir("bisect", scenario.name)
    config = {
        "scenario": scenario.name,
        "find": options.find,
        "bug": bug.model_dump(),
        "budget": options.budget,
        "from": upgrade_from[1] if upgrade_from else None,  # its commit: every probe deploys the same
        "reuse": settings.reuse_deploys,  # ... so the first deploy saved serves the other probes
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    progress(f"bisect {scenario.name}: first {TERMS[options.find][1]} commit between {old[:12]} and {new[:12]}")
    if upgrade_from:
        progress(f"each probe deploys at {upgrade_from[0]} ({upgrade_from[1][:12]}) and upgrades at the probed commit")
    progress(f"the bug: {bug.describe()}; other failures skip the commit")
    started = time.monotonic()
    result = BisectResult(scenario.name, options.find, good, bad, None, directory=str(directory))
    result.ends_problem = "" if options.trust_ends else _check_ends(settings, directory, options.find, old, new)
    if not result.ends_problem and _budget_left(directory) == 0:
        result.unresolved, result.candidates = "the probe budget was spent on the ends", _between(repo, old, new)
    elif not result.ends_problem:
        result.first_commit = _bisect(settings, directory, options.find, old, new, progress, result)
    result.probes = read_probes(directory)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _bisect(
    settings: Settings,
    directory: Path,
    find: str,
    old: str,
    new: str,
    progress: Callable[[str], None],
    result: BisectResult,
) -> str | None:
    worktree = directory / "git"
    source.add_worktree(settings, new, worktree, checkout=False)
    try:
        output = _bisect_run(worktree, find, old, new, directory, progress)
        if _budget_left(directory) == 0 and "is the first" not in output:
            result.unresolved = f"the probe budget ({len(read_probes(directory))} runs) was spent"
            result.candidates = _left_to_bisect(worktree, find)
    finally:
        subprocess.run(["git", "-C", str(worktree), "bisect", "reset"], capture_output=True, check=False)
        source.remove_worktree(settings, worktree)
    _conclude(source.ensure_clone(settings), result, output, TERMS[find][1])
    return result.first_commit


def _check_ends(settings: Settings, directory: Path, find: str, old: str, new: str) -> str:
    """Run both ends as given; '' when they hold, else what did not."""
    term_old, term_new = TERMS[find]
    for sha, term, wanted in ((old, term_old, EXIT_OLD), (new, term_new, EXIT_NEW)):
        verdict = probe_commit(settings, directory, sha)
        if _answer(find, verdict) != wanted:
            return (
                f"the {term} end {sha[:12]} is not {term}: its run gave {verdict}; "
                f"check the refs (or give --trust-ends to bisect without running them)"
            )
    return ""


def _check_order(repo: Path, options: BisectOptions, old: str, new: str) -> None:
    if old == new:
        raise HarnessError(f"--good {options.good} and --bad {options.bad} are the same commit")
    if not _is_ancestor(repo, old, new):
        if options.find == "regression":
            hint = "--good must be an older commit than --bad; for the commit that fixed a bug, add --find fix"
        else:
            hint = "with --find fix, --bad is the older (still broken) commit and --good the newer (fixed) one"
        raise HarnessError(f"{old[:12]} is not an ancestor of {new[:12]}: {hint}")


def _is_ancestor(repo: Path, old: str, new: str) -> bool:
    argv = ["git", f"--git-dir={repo}", "merge-base", "--is-ancestor", old, new]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def _bisect_run(worktree: Path, find: str, old: str, new: str, directory: Path, progress: Callable[[str], None]) -> str:
    term_old, term_new = TERMS[find]
    git = ["git", "-C", str(worktree)]
    start = [*git, "bisect", "start", "--no-checkout", f"--term-old={term_old}", f"--term-new={term_new}", new, old]
    proc = subprocess.run(start, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"git bisect start failed: {(proc.stdout + proc.stderr).strip().splitlines()[-1]}")
    lines = proc.stdout.splitlines()
    (directory / "bisect.log").write_text(proc.stdout)
    if any(f"is the first {term_new} commit" in line for line in lines):
        progress(lines[0])  # adjacent ends: git knows the answer without a probe (bisect run would probe anyway)
        return proc.stdout
    probe = [sys.executable, "-m", "harness", "bisect-probe", str(directory)]
    with (directory / "bisect.log").open("a") as log:
        process = interrupts.spawn([*git, "bisect", "run", *probe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                lines.append(line)
                progress(line)
        finally:
            interrupts.wait(process)
    return "\n".join(lines)


def _conclude(repo: Path, result: BisectResult, output: str, term_new: str) -> None:
    found = re.search(rf"^([0-9a-f]{{40}}) is the first {term_new} commit", output, re.MULTILINE)
    if found:
        result.first_commit = found.group(1)
        result.subject = source.git(repo, "log", "-1", "--format=%s", result.first_commit)
        pr = re.search(r"\(#(\d+)\)|Merge pull request #(\d+)", result.subject)
        result.pr = next((group for group in pr.groups() if group), None) if pr else None
        return
    if "only 'skip'ped commits left" in output:
        result.unresolved = "only commits that failed elsewhere (skipped) are left"
        result.candidates = re.findall(r"^([0-9a-f]{40})$", output, re.MULTILINE)


def _budget_left(directory: Path) -> int | None:
    """Scenario runs this bisection may still make; None without a budget."""
    budget = json.loads((directory / CONFIG_FILE).read_text()).get("budget")
    return None if budget is None else max(0, budget - len(read_probes(directory)))


def _left_to_bisect(worktree: Path, find: str) -> list[str]:
    """The commits a stopped bisection had not told apart: the first new one is among them."""
    term_old, term_new = TERMS[find]
    refs = subprocess.run(
        ["git", "-C", str(worktree), "for-each-ref", "--format=%(refname)", f"refs/bisect/{term_old}-*"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    argv = ["git", "-C", str(worktree), "rev-list", f"refs/bisect/{term_new}", "--not", *refs]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()


def _between(repo: Path, old: str, new: str) -> list[str]:
    return source.git(repo, "rev-list", new, "--not", old).split()


def read_probes(directory: Path) -> list[Probe]:
    path = directory / PROBES_FILE
    if not path.is_file():
        return []
    return [Probe(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def probe(settings: Settings, directory: Path) -> int:
    """One bisection step (`git bisect run` calls it): run the scenario at BISECT_HEAD, answer 0/1/125,
    or stop the bisection once its budget of runs is spent."""
    config = json.loads((directory / CONFIG_FILE).read_text())
    if _budget_left(directory) == 0:
        print(f"probe budget of {config['budget']} runs spent: stopping", flush=True)
        return EXIT_STOP
    return _answer(config["find"], probe_commit(settings, directory, _bisect_head(directory)))


def probe_commit(settings: Settings, directory: Path, sha: str) -> str:
    """Run the scenario at one commit, expecting the bug; record and print the verdict.
    A commit this bisection already ran (an end git asks about again) is not run twice."""
    config = json.loads((directory / CONFIG_FILE).read_text())
    known = next((probe for probe in read_probes(directory) if probe.sha == sha), None)
    if known is not None:
        print(f"probe {sha[:12]}: {known.verdict}, as its run {known.run_dir} found", flush=True)
        return known.verdict
    bug = Expectation(fail=FailureExpectation(**config["bug"]))
    started = time.monotonic()
    try:
        run = runner.run(
            replace(settings, runs_dir=directory / "runs", reuse_deploys=config.get("reuse", True)),
            config["scenario"],
            sha,
            bug,
            upgrade_from=config.get("from"),
        )
        assert run.verdict is not None
        verdict, run_dir, report = repro_verdict(run.verdict).value, str(run.run_dir), run.as_dict()
        detail = f"{run.failed_task}: {run.failed_message}" if run.failed_task else ""
    except HarnessError as exc:
        verdict, run_dir, detail, report = "error", "", exc.message, {}
    record = Probe(sha, verdict, round(time.monotonic() - started, 1), run_dir, detail[:500], report)
    with (directory / PROBES_FILE).open("a") as probes:
        probes.write(json.dumps(asdict(record)) + "\n")
    answer = _answer(config["find"], verdict)
    term = {EXIT_OLD: TERMS[config["find"]][0], EXIT_NEW: TERMS[config["find"]][1]}.get(answer, "skip")
    print(f"probe {sha[:12]}: {verdict} in {record.seconds:.0f}s -> {term}", flush=True)
    return verdict


def _bisect_head(directory: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(directory / "git"), "rev-parse", "BISECT_HEAD"], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def _answer(find: str, verdict: str) -> int:
    present, absent = (EXIT_NEW, EXIT_OLD) if find == "regression" else (EXIT_OLD, EXIT_NEW)
    if verdict == ReproVerdict.REPRODUCED.value:
        return present
    if verdict == ReproVerdict.NOT_REPRODUCED.value:
        return absent
    return EXIT_SKIP


def exit_code(result: BisectResult) -> int:
    return 0 if result.first_commit else EXIT_MISMATCH
