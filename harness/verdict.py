"""Turning a run's outcome and the scenario's expectation into a verdict.

A verdict is earned: *expected failure* only where the expected task failed in the
expected step on exactly the expected hosts with the expected message; *passed*
only when every step ran on every host and every host check ran and passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

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

    @property
    def headline(self) -> str:
        return {
            Verdict.PASSED: "passed",
            Verdict.EXPECTED_FAILURE: "expected failure reproduced",
            Verdict.UNEXPECTED_FAILURE: "unexpected failure",
            Verdict.UNEXPECTED_PASS: "unexpected pass",
            Verdict.UNREACHABLE: "host unreachable: the run did not see everything it was meant to",
            Verdict.CHECKS_SKIPPED: "host checks skipped: not verified",
        }[self]


@dataclass(frozen=True)
class Outcome:
    """What happened: the first failing step's failure, unreachable hosts, skipped checks."""

    failed_step: str | None = None
    failure: Failure | None = None
    unreachable: Failure | None = None  # in any step, ignored or not
    checks_skipped: tuple[str, ...] = ()  # skipped host checks the scenario does not call optional

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
        if outcome.checks_skipped:
            return Judgement(Verdict.CHECKS_SKIPPED)
        return Judgement(Verdict.PASSED if expectation.passes else Verdict.UNEXPECTED_PASS)
    if expectation.fail is None:
        return Judgement(Verdict.UNEXPECTED_FAILURE)
    differences = tuple(differences_from(expectation.fail, outcome))
    return Judgement(Verdict.UNEXPECTED_FAILURE if differences else Verdict.EXPECTED_FAILURE, differences)


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
    if sorted(failure.hosts) != sorted(expected.hosts):
        found.append(f"hosts: {', '.join(failure.hosts) or 'none'} (expected {', '.join(expected.hosts)})")
    if expected.message is not None and expected.message not in failure.text:
        found.append(f"message: does not contain {expected.message!r}")
    if expected.rc is not None and failure.rc != expected.rc:
        found.append(f"rc: {failure.rc} (expected {expected.rc})")
    return found


def matches_expectation(verdict: Verdict) -> bool:
    return verdict in (Verdict.PASSED, Verdict.EXPECTED_FAILURE)


class ReproVerdict(str, Enum):
    """A bug's state in a run: did the run fail where the report (or scenario) says it fails?"""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not-reproduced"
    FAILED_ELSEWHERE = "failed-elsewhere"
    INCONCLUSIVE = "inconclusive"  # a host was unreachable or host checks were skipped


def repro_verdict(verdict: Verdict) -> ReproVerdict:
    """For a run that expected the bug's failure: there (reproduced), no failure, or another one."""
    if verdict == Verdict.EXPECTED_FAILURE:
        return ReproVerdict.REPRODUCED
    if verdict in (Verdict.PASSED, Verdict.UNEXPECTED_PASS):
        return ReproVerdict.NOT_REPRODUCED
    if verdict in (Verdict.UNREACHABLE, Verdict.CHECKS_SKIPPED):
        return ReproVerdict.INCONCLUSIVE
    return ReproVerdict.FAILED_ELSEWHERE
