"""A Kubespray bug report as its GitHub issue form renders it (Markdown), or as YAML.

The Markdown is one `### <label>` section per form field; GitHub writes
`_No response_` for a field left empty. The YAML form uses the issue form's
field ids (`kubespray_version`, `inventory`, `ansible_command`, ...) as keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.errors import HarnessError

# Kubespray's .github/ISSUE_TEMPLATE/bug-report.yaml: label -> field id.
FORM_FIELDS = {
    "What happened?": "problem",
    "What did you expect to happen?": "expected",
    "How can we reproduce it (as minimally and precisely as possible)?": "repro",
    "OS": "os",
    "Version of Ansible": "ansible_version",
    "Version of Python": "python_version",
    "Version of Kubespray (commit)": "kubespray_version",
    "Network plugin used": "network_plugin",
    "Full inventory with variables": "inventory",
    "Command used to invoke ansible": "ansible_command",
    "Output of ansible run": "ansible_output",
    "Anything else we need to know": "anything_else",
}
LABELS = {field_id: label for label, field_id in FORM_FIELDS.items()}
NO_RESPONSE = "_No response_"

_HEADING = re.compile(r"^###\s+(.+?)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced block, with the line of prose before it (often a file name)."""

    caption: str
    text: str


@dataclass(frozen=True)
class BugReport:
    path: Path
    fields: dict[str, str] = field(default_factory=dict)

    def text(self, field_id: str) -> str:
        return self.fields.get(field_id, "").strip()

    def code(self, field_id: str) -> str:
        """A field's code: its fenced blocks joined, or the text itself when it has none."""
        blocks = self.blocks(field_id)
        return "\n".join(block.text for block in blocks) if blocks else self.text(field_id)

    def blocks(self, field_id: str) -> list[CodeBlock]:
        return code_blocks(self.text(field_id))


def section(field_id: str) -> str:
    """How messages name a field: as the reporter saw it in the form."""
    return f"'### {LABELS[field_id]}'"


def read(path: Path) -> BugReport:
    if not path.is_file():
        raise HarnessError(f"bug report {path}: no such file; give the issue's Markdown (or a YAML report)")
    text = path.read_text(errors="replace")
    if path.suffix in (".yml", ".yaml"):
        return BugReport(path, _yaml_fields(path, text))
    fields = markdown_fields(text)
    if not fields:
        raise HarnessError(
            f"bug report {path}: no '### <field>' sections found; paste the issue as GitHub shows it "
            "in Markdown (the form's '### Version of Kubespray (commit)', ...) or write a YAML report"
        )
    return BugReport(path, fields)


def markdown_fields(text: str) -> dict[str, str]:
    """The form's fields by id, from the Markdown GitHub renders; unknown headings are kept by label."""
    headings = list(_HEADING.finditer(text))
    fields = {}
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        body = text[heading.end() : end].strip()
        label = heading.group(1)
        fields[FORM_FIELDS.get(label, label)] = "" if body == NO_RESPONSE else body
    return fields


def yaml_mapping(text: str, what: str, should_be: str) -> dict:
    """A YAML mapping out of report text, or an error naming `what` and what it should be."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HarnessError(f"{what} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HarnessError(f"{what} should be {should_be}")
    return data


def _yaml_fields(path: Path, text: str) -> dict[str, str]:
    data = yaml_mapping(text, f"bug report {path}", "a mapping of the issue form's field ids to text")
    unknown = sorted(str(key) for key in data if key not in LABELS)
    if unknown:
        raise HarnessError(
            f"bug report {path}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(LABELS)}"
        )
    return {key: _as_text(value) for key, value in data.items()}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)


def code_blocks(text: str) -> list[CodeBlock]:
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        caption = before[-1].strip() if before else ""
        if caption.startswith(("```", "~~~")):  # right after another block: no caption of its own
            caption = ""
        blocks.append(CodeBlock(caption, match.group(2)))
    return blocks


# A commit (abbreviated or full), a release tag, a release branch, or master.
_REF_PATTERNS = (
    re.compile(r"\b(?=[0-9]*[a-f])[0-9a-f]{7,40}\b"),
    re.compile(r"\bv\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?\b"),
    re.compile(r"\brelease-\d+\.\d+\b"),
    re.compile(r"\b(?:master|main)\b"),
)


def kubespray_ref(report: BugReport) -> str:
    """The Kubespray ref the reporter ran: a sha wins over a tag or branch named beside it."""
    text = report.code("kubespray_version")
    if not text:
        raise HarnessError(
            f"{report.path}: section {section('kubespray_version')} is missing or empty; "
            "it should hold the commit (git rev-parse --short HEAD), a tag or release-X.Y"
        )
    for pattern in _REF_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(0)
    raise HarnessError(
        f"{report.path}: section {section('kubespray_version')} says {text.splitlines()[0]!r}, "
        "which names no commit, tag (vX.Y.Z) or release-X.Y branch"
    )
