"""Turning a run's outcome and the scenario's expectation into a verdict.

A verdict is earned: *expected failure* only where the expected task failed in the
expected step on exactly the expected hosts with the expected message; *passed*
only when every step ran on every host and every host check ran and passed; a run
that expected a failure and saw none is an *unexpected pass* only when the expected
task ran (and succeeded) on the expected hosts in the expected step, else it is
*not exercised*, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from harness.errors import EXIT_MISMATCH, EXIT_NOT_EXERCISED
from harness.events import Failure
from harness.scenario import Expectation, FailureExpectation


class Verdict(str, Enum):
    PASSED = "passed"
    EXPECTED_FAILURE = "expected-failure"
    UNEXPECTED_FAILURE = "unexpected-failure"
    UNEXPECTED_PASS = "unexpected-pass"
    # What the harness could not see is said, never counted as a pass or a failure of Kubespray's.
    UNREACHABLE = "unreachable"
    CHECKS_SKIPPED = "checks-skipped"
    NOT_EXERCISED = "not-exercised"  # the expected failure's task never ran where it was expected
    INTERRUPTED = "interrupted"  # a signal stopped the run (its nodes were removed)

    @property
    def headline(self) -> str:
        return {
            Verdict.PASSED: "passed",
            Verdict.EXPECTED_FAILURE: "expected failure reproduced",
            Verdict.UNEXPECTED_FAILURE: "unexpected failure",
            Verdict.UNEXPECTED_PASS: "unexpected pass",
            Verdict.UNREACHABLE: "host unreachable: the run did not see everything it was meant to",
            Verdict.CHECKS_SKIPPED: "host checks skipped: not verified",
            Verdict.NOT_EXERCISED: "not exercised: the expected task never ran where it was expected to fail",
            Verdict.INTERRUPTED: "interrupted: a signal stopped the run; its nodes were removed",
        }[self]


@dataclass(frozen=True)
class Outcome:
    """What happened: the first failing step's failure, unreachable hosts, skipped checks."""

    failed_step: str | None = None
    failure: Failure | None = None
    unreachable: Failure | None = None  # in any step, ignored or not
    checks_skipped: tuple[str, ...] = ()  # skipped host checks the scenario does not call optional
    # (step, task, host) -> "ran", "failed" or "skipped"; (step, task, "") for a task that started in the step.
    task_runs: dict[tuple[str, str, str], str] = field(default_factory=dict, hash=False)

    @property
    def passed(self) -> bool:
        return self.failed_step is None


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    # Why a failure is not the expected one, e.g. "step: upgrade-kw-2 (expected upgrade-kw-1)".
    differences: tuple[str, ...] = field(default=())


def decide(expectation: Expectation, outcome: Outcome) -> Judgement:
    if outcome.unreachable is not None:
        return Judgement(Verdict.UNREACHABLE)
    if outcome.passed:
        unexercised = expectation.fail and not_exercised(expectation.fail, outcome)
        if unexercised:
            return Judgement(Verdict.NOT_EXERCISED, (unexercised,))
        if outcome.checks_skipped:
            return Judgement(Verdict.CHECKS_SKIPPED)
        return Judgement(Verdict.PASSED if expectation.passes else Verdict.UNEXPECTED_PASS)
    if expectation.fail is None:
        return Judgement(Verdict.UNEXPECTED_FAILURE)
    differences = tuple(differences_from(expectation.fail, outcome))
    return Judgement(Verdict.UNEXPECTED_FAILURE if differences else Verdict.EXPECTED_FAILURE, differences)


def not_exercised(expected: FailureExpectation, outcome: Outcome) -> str | None:
    """Why the expected task did not run on every expected host in the expected step (None if it did)."""
    runs, task, step = outcome.task_runs, expected.task.strip(), expected.step
    if (step, task, "") not in runs:
        return (
            f"TASK [{task}] did not run in step {step}: it is not in the step's tags, "
            "or not in the playbook at this ref"
        )
    skipped = [host for host in expected.hosts if runs.get((step, task, host)) == "skipped"]
    absent = [host for host in expected.hosts if (step, task, host) not in runs]
    if skipped:
        return f"TASK [{task}] was skipped on {', '.join(skipped)} in step {step} (its conditions were false)"
    if absent:
        return f"TASK [{task}] ran in step {step} but not on {', '.join(absent)}: not in its play's hosts"
    return None


def passed_where_expected(expected: FailureExpectation, outcome: Outcome) -> bool:
    """Whether the expected task ran on every expected host in the expected step and failed on none
    (a host's "ran" in task_runs says both: it had a result there, and none of them failed)."""
    task = expected.task.strip()
    return all(outcome.task_runs.get((expected.step, task, host)) == "ran" for host in expected.hosts)


def differences_from(expected: FailureExpectation, outcome: Outcome) -> list[str]:
    """What about the run's failure is not the expected one; empty when it is."""
    failure = outcome.failure
    if failure is None:
        return [f"no failed task was recorded in step {outcome.failed_step} (expected {expected.task!r})"]
    found = []
    if failure.task.strip() != expected.task.strip():
        found.append(f"task: {failure.task!r} (expected {expected.task!r})")
    if outcome.failed_step != expected.step:
        found.append(f"step: {outcome.failed_step} (expected {expected.step})")
    if not _hosts_match(expected, failure.hosts):
        found.append(f"hosts: {', '.join(failure.hosts) or 'none'} (expected {', '.join(expected.hosts)})")
    if expected.message is not None and expected.message not in failure.text:
        found.append(f"message: does not contain {expected.message!r}")
    if expected.rc is not None and failure.rc != expected.rc:
        found.append(f"rc: {failure.rc} (expected {expected.rc})")
    return found


def _hosts_match(expected: FailureExpectation, failed: tuple[str, ...]) -> bool:
    if expected.more_hosts_may_fail:
        return set(expected.hosts) <= set(failed)
    return sorted(failed) == sorted(expected.hosts)


def matches_expectation(verdict: Verdict) -> bool:
    return verdict in (Verdict.PASSED, Verdict.EXPECTED_FAILURE)


def exit_code(mismatched: list[str]) -> int:
    """From the verdicts (values) of the runs that did not match their expectation: 0 for none;
    3 when each of them never exercised the expected failure (give the task's tags); 1 otherwise."""
    if not mismatched:
        return 0
    return EXIT_NOT_EXERCISED if set(mismatched) == {Verdict.NOT_EXERCISED.value} else EXIT_MISMATCH


class ReproVerdict(str, Enum):
    """A bug's state in a run: did the run fail where the report (or scenario) says it fails?"""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not-reproduced"
    FAILED_ELSEWHERE = "failed-elsewhere"
    INCONCLUSIVE = "inconclusive"  # a host was unreachable or host checks were skipped
    NOT_EXERCISED = "not-exercised"  # the reported task never ran on the reported host(s)
    # A task beyond what runs in containers failed before the reported task could run.
    CANNOT_REPRODUCE_HERE = "cannot-reproduce-here"


def repro_verdict(verdict: Verdict) -> ReproVerdict:
    """For a run that expected the bug's failure: there (reproduced), no failure, or another one."""
    if verdict == Verdict.EXPECTED_FAILURE:
        return ReproVerdict.REPRODUCED
    if verdict in (Verdict.PASSED, Verdict.UNEXPECTED_PASS):
        return ReproVerdict.NOT_REPRODUCED
    if verdict == Verdict.NOT_EXERCISED:
        return ReproVerdict.NOT_EXERCISED
    if verdict in (Verdict.UNREACHABLE, Verdict.CHECKS_SKIPPED):
        return ReproVerdict.INCONCLUSIVE
    return ReproVerdict.FAILED_ELSEWHERE
