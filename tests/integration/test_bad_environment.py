"""A machine that cannot hold a run: a full disk while the harness clones Kubespray, bootstraps an
image or installs Kubespray's Ansible (a small tmpfs stands in for the cache's disk), and a
Kubespray source nobody answers at. Each is one line and exit 2, with nothing started or left.
About 1 minute (the image's bootstrap downloads from Debian's mirror until the disk is full)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import HARNESS, UPGRADE_RUN

from harness import images, provider
from harness.errors import HarnessError
from harness.images import CONTROLLER_PYTHON
from harness.kubespray import source, venv
from harness.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """`small_disk("16m")`: an empty tmpfs of that size, unmounted after the test. Needs root
    (CAP_SYS_ADMIN), as the harness itself does to run Docker."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk-{size}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def harness(*args: str, cache: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "HARNESS_RUNS_DIR": str(tmp_path / "runs"), **env}
    return subprocess.run([*HARNESS, *args], capture_output=True, text=True, timeout=600, check=False, env=environment)


def left_in(cache: Path) -> list[str]:
    """What a failed command left in the cache, beyond its lock files."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.suffix != ".lock" and p.name != "runs")


def harness_containers(client) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": provider.RUN_LABEL})]


def test_a_full_disk_while_cloning_kubespray_is_one_line_and_exit_2_with_nothing_left(
    kubespray_clone, docker_engine, small_disk, tmp_path
):
    cache = small_disk("8m")  # Kubespray's history is some 90 MB
    before = harness_containers(docker_engine)

    proc = harness(*UPGRADE_RUN, cache=cache, tmp_path=tmp_path, KUBESPRAY_REPO=str(kubespray_clone))

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: cloning Kubespray into {cache} failed: no space left on device; free some space, or point "
        "HARNESS_CACHE_DIR (and Docker's data-root for images) at a disk with room"
    ]
    assert left_in(cache) == []
    assert harness_containers(docker_engine) == before


def test_a_full_disk_while_bootstrapping_an_image_is_one_line_and_exit_2_with_nothing_left(
    docker_engine, small_disk, tmp_path
):
    cache = small_disk("24m")  # a Debian root file system is some 150 MB
    # Debian's mirror spelt otherwise than debootstrap's default: a base image nobody built yet.
    settings = {"HARNESS_BASE_IMAGE_SOURCE": "debootstrap", "HARNESS_DEBIAN_MIRROR": "http://deb.debian.org/debian/"}
    base = images.base_tags(Settings.from_env(settings))["debootstrap"]
    assert not provider.image_exists(docker_engine, base)

    proc = harness("images", cache=cache, tmp_path=tmp_path, **settings)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: debootstrap failed: no space left on device; free some space, or point "
        "HARNESS_CACHE_DIR (and Docker's data-root for images) at a disk with room"
    ]
    assert left_in(cache) == []
    assert not provider.image_exists(docker_engine, base)


def test_a_full_disk_while_installing_kubesprays_ansible_says_so_in_one_line(kubespray_clone, small_disk):
    target = small_disk("32m")  # Kubespray's pinned Ansible is some 280 MB
    requirements = target / "requirements.txt"
    requirements.write_text(source.git(kubespray_clone, "show", "v2.27.1:requirements.txt"))

    with pytest.raises(HarnessError) as caught:
        venv.install_for(requirements, target / "ansible", CONTROLLER_PYTHON)

    assert caught.value.message == (
        "installing the Ansible that Kubespray pins failed: no space left on device; free some space, or point "
        "HARNESS_CACHE_DIR (and Docker's data-root for images) at a disk with room"
    )
    assert caught.value.log_tail == ""


def test_a_kubespray_source_nobody_answers_at_is_one_line_and_exit_2(tmp_path):
    unreachable = "https://127.0.0.1:9/kubernetes-sigs/kubespray.git"  # the discard port: refused at once

    proc = harness(*UPGRADE_RUN, cache=tmp_path / "cache", tmp_path=tmp_path, KUBESPRAY_REPO=unreachable)

    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot clone Kubespray from {unreachable}: fatal: unable to access"), line
    assert line.endswith("set KUBESPRAY_REPO to a reachable URL or a local clone"), line
    assert left_in(tmp_path / "cache") == []
