"""Unit-test setup: make the scenarios' shared host-check parsers importable; shared fixtures.

Molecule's verifier puts scenarios/shared on sys.path through
scenarios/conftest.py; the unit tests do the same so `import checks` works.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.kubespray import listing
from harness.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "scenarios" / "shared"

if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))


@pytest.fixture
def repro_settings(tmp_path: Path) -> Settings:
    """Settings whose Kubespray is a small local repository holding the playbooks reports name
    (cluster.yml, scale.yml): no report in the unit tests gets as far as running."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(upstream)]
    subprocess.run([*git, "init", "-q"], check=True)
    for playbook in ("cluster.yml", "scale.yml"):
        (upstream / playbook).write_text("---\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "playbooks"], check=True)
    base = Settings.from_env({})
    return replace(base, kubespray_repo=str(upstream), cache_dir=tmp_path / "cache", runs_dir=tmp_path / "runs")


RECORDED_LISTINGS = Path(__file__).resolve().parents[1] / "data" / "v2.27.1" / "listings"


@pytest.fixture(autouse=True)
def recorded_listings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubespray's task listings as the harness recorded them at v2.27.1 (a unit test starts no
    controller container); a playbook without a recording lists no task."""

    def list_tasks(settings: Settings, sha: str, playbook: str, log=print) -> listing.Listing:
        recorded = RECORDED_LISTINGS / f"{Path(playbook).name}.txt"
        return listing.parse(playbook, recorded.read_text() if recorded.is_file() else "")

    monkeypatch.setattr(listing, "list_tasks", list_tasks)


@pytest.fixture
def repro_head(repro_settings: Settings) -> str:
    """The commit of repro_settings' small Kubespray, for `ReproOptions(ref=...)`."""
    argv = ["git", "-C", repro_settings.kubespray_repo, "rev-parse", "HEAD"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
