"""Reading the testinfra verifier's JUnit XML: which host checks passed, failed or were skipped,
and which did not apply to the run's Kubespray (deselected, so absent from the JUnit)."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from harness.text import first_line

NOT_APPLICABLE_FILE = "checks-not-applicable.json"  # written into the run directory by scenarios/conftest.py


@dataclass(frozen=True)
class CheckResults:
    total: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    first_message: str = ""
    problems: dict[str, str] = field(default_factory=dict)  # failed check -> first line of its message
    not_applicable: dict[str, str] = field(default_factory=dict)  # check -> why it does not apply

    @property
    def passed(self) -> bool:
        """Every check ran and passed (skipped ones are judged apart: see `required_skipped`)."""
        return self.total > len(self.skipped) and not self.failed

    def failure_groups(self) -> list[FailureGroup]:
        """Failed checks grouped by what they say, the largest group first."""
        groups: dict[str, list[str]] = {}
        for name in self.failed:
            groups.setdefault(self.problems.get(name) or _function(name), []).append(name)
        found = [FailureGroup(problem, names) for problem, names in groups.items()]
        return sorted(found, key=lambda group: -len(group.checks))

    def summary(self) -> str:
        """One line for the report's failed task: the commonest failure, and how many others."""
        groups = self.failure_groups()
        if not groups:
            return "no checks ran" if not self.passed else ""
        others = sum(len(group.checks) for group in groups[1:])
        return groups[0].line() + (f"; and {others} other failed check(s)" if others else "")

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "failed": self.failed,
            "skipped": self.skipped,
            "not_applicable": self.not_applicable,
        }

    def required_skipped(self, optional: list[str]) -> list[str]:
        """Skipped checks that the scenario does not name optional (shell patterns on test names)."""
        return [name for name in self.skipped if not any(fnmatch.fnmatch(name, pattern) for pattern in optional)]


@dataclass(frozen=True)
class FailureGroup:
    problem: str
    checks: list[str]

    @property
    def nodes(self) -> list[str]:
        return sorted({node for name in self.checks if (node := _node(name))})

    def line(self) -> str:
        """e.g. "no '# Ansible inventory hosts BEGIN' ... block; /etc/hosts: 10 checks on 5 nodes (km-1, ...)"."""
        where = f" on {len(self.nodes)} node(s) ({', '.join(self.nodes)})" if self.nodes else ""
        return f"{self.problem}: {len(self.checks)} check(s){where}"


def _function(check: str) -> str:
    return check.split("[", 1)[0]


def _node(check: str) -> str:
    """The node of `test_x[ansible://km-1-b1927917]`, without the run id its container name ends in."""
    found = re.search(r"\[ansible://([^\]]+)\]", check)
    return re.sub(r"-[0-9a-f]{8}$", "", found.group(1)) if found else ""


def _first_line(message: str) -> str:
    return first_line(message).strip().removeprefix("AssertionError: ").rstrip(":")


def read_run_checks(junit: Path, not_applicable: Path) -> CheckResults:
    """The verifier's JUnit, with the checks the scenarios' conftest found not applicable."""
    results = read_junit(junit)
    if not_applicable.is_file():
        results = dataclasses.replace(results, not_applicable=json.loads(not_applicable.read_text()))
    return results


def read_junit(path: Path) -> CheckResults:
    if not path.is_file():
        return CheckResults()
    root = ET.parse(path).getroot()
    total, failed, skipped, first_message, problems = 0, [], [], "", {}
    for case in root.iter("testcase"):
        total += 1
        name = case.get("name", "?")
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed.append(name)
            message = problem.get("message") or problem.text or ""
            first_message = first_message or message[:2000]
            problems[name] = _first_line(message)
        elif case.find("skipped") is not None:
            skipped.append(name)
    return CheckResults(total=total, failed=failed, skipped=skipped, first_message=first_message, problems=problems)
