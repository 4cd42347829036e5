"""Reading the testinfra verifier's JUnit XML: which host checks passed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CheckResults:
    total: int = 0
    failed: list[str] = field(default_factory=list)
    first_message: str = ""

    @property
    def passed(self) -> bool:
        return self.total > 0 and not self.failed


def read_junit(path: Path) -> CheckResults:
    if not path.is_file():
        return CheckResults()
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    total, failed, first_message = 0, [], ""
    for case in cases:
        total += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed.append(case.get("name", "?"))
            first_message = first_message or (problem.get("message") or problem.text or "")[:2000]
    return CheckResults(total=total, failed=failed, first_message=first_message)
