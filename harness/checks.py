"""Reading the testinfra verifier's JUnit XML: which host checks passed, failed or were skipped."""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CheckResults:
    total: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    first_message: str = ""

    @property
    def passed(self) -> bool:
        """Every check ran and passed (skipped ones are judged apart: see `required_skipped`)."""
        return self.total > len(self.skipped) and not self.failed

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "failed": self.failed, "skipped": self.skipped}

    def required_skipped(self, optional: list[str]) -> list[str]:
        """Skipped checks that the scenario does not name optional (shell patterns on test names)."""
        return [name for name in self.skipped if not any(fnmatch.fnmatch(name, pattern) for pattern in optional)]


def read_junit(path: Path) -> CheckResults:
    if not path.is_file():
        return CheckResults()
    root = ET.parse(path).getroot()
    total, failed, skipped, first_message = 0, [], [], ""
    for case in root.iter("testcase"):
        total += 1
        name = case.get("name", "?")
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed.append(name)
            first_message = first_message or (problem.get("message") or problem.text or "")[:2000]
        elif case.find("skipped") is not None:
            skipped.append(name)
    return CheckResults(total=total, failed=failed, skipped=skipped, first_message=first_message)
