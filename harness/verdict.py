"""Turning a run's outcome and the scenario's expectation into a verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from harness.events import Failure
from harness.scenario import Expectation


class Verdict(str, Enum):
    PASSED = "passed"
    EXPECTED_FAILURE = "expected-failure"
    UNEXPECTED_FAILURE = "unexpected-failure"
    UNEXPECTED_PASS = "unexpected-pass"

    @property
    def headline(self) -> str:
        return {
            Verdict.PASSED: "passed",
            Verdict.EXPECTED_FAILURE: "expected failure reproduced",
            Verdict.UNEXPECTED_FAILURE: "unexpected failure",
            Verdict.UNEXPECTED_PASS: "unexpected pass",
        }[self]


@dataclass(frozen=True)
class Outcome:
    """What happened: the first failing step's failure, or none."""

    failed_step: str | None = None
    failure: Failure | None = None

    @property
    def passed(self) -> bool:
        return self.failed_step is None


def decide(expectation: Expectation, outcome: Outcome) -> Verdict:
    if outcome.passed:
        return Verdict.PASSED if expectation.passes else Verdict.UNEXPECTED_PASS
    if expectation.fail is not None and outcome.failure is not None and _matches(expectation, outcome.failure):
        return Verdict.EXPECTED_FAILURE
    return Verdict.UNEXPECTED_FAILURE


def matches_expectation(verdict: Verdict) -> bool:
    return verdict in (Verdict.PASSED, Verdict.EXPECTED_FAILURE)


def _matches(expectation: Expectation, failure: Failure) -> bool:
    assert expectation.fail is not None
    return failure.task.strip() == expectation.fail.task.strip() and expectation.fail.message in failure.message


class ReproVerdict(str, Enum):
    """A bug's state in a run: did the run fail where the report (or scenario) says it fails?"""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not-reproduced"
    FAILED_ELSEWHERE = "failed-elsewhere"


def repro_verdict(verdict: Verdict) -> ReproVerdict:
    """For a run that expected the bug's failure: there (reproduced), no failure, or another one."""
    if verdict == Verdict.EXPECTED_FAILURE:
        return ReproVerdict.REPRODUCED
    if verdict in (Verdict.PASSED, Verdict.UNEXPECTED_PASS):
        return ReproVerdict.NOT_REPRODUCED
    return ReproVerdict.FAILED_ELSEWHERE
