"""The /etc/hosts tasks of real Kubespray refs on both sides of PR 12382 ("Do not alter
etc/hosts", 15c8a4768), read as the host checks read them. Git only: seconds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.kubespray import source, tasks

pytestmark = pytest.mark.integration
RUN_TAGS = ["asserts", "facts", "etchosts", "haproxy"]  # the scenarios' tag set


def _preinstall_role(clone: Path, settings, ref: str, target: Path) -> Path:
    """The ref's preinstall role alone, unpacked from the clone."""
    sha = source.resolve(settings, ref)
    archive = subprocess.run(
        ["git", f"--git-dir={clone}", "archive", sha, str(tasks.PREINSTALL_TASKS)], capture_output=True, check=True
    ).stdout
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


@pytest.mark.parametrize("ref", ["v2.27.0", "v2.28.0", "15c8a4768^"])
def test_refs_before_pr_12382_write_the_block_and_the_apiserver_name(kubespray_clone, settings, tmp_path, ref):
    worktree = _preinstall_role(kubespray_clone, settings, ref, tmp_path / "kubespray")

    assert tasks.etc_hosts_tasks(worktree, RUN_TAGS) == tasks.EtcHostsTasks(inventory_block=True, apiserver_name=True)


@pytest.mark.parametrize("ref", ["15c8a4768", "v2.29.0", "master"])
def test_refs_from_pr_12382_on_leave_etc_hosts_alone(kubespray_clone, settings, tmp_path, ref):
    worktree = _preinstall_role(kubespray_clone, settings, ref, tmp_path / "kubespray")

    assert tasks.etc_hosts_tasks(worktree, RUN_TAGS) == tasks.EtcHostsTasks(inventory_block=False, apiserver_name=False)
