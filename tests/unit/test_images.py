"""images: content digests that decide when a node image is rebuilt (no Docker needed)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import images
from harness.settings import PROJECT_ROOT, Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Real settings: images_dir is the project's own images/ folder."""
    return Settings(
        kubespray_repo="https://github.com/kubernetes-sigs/kubespray.git",
        cache_dir=tmp_path / "cache",
        runs_dir=tmp_path / "runs",
        base_image_source="auto",
        debian_mirror="",
        keep_worktree=False,
    )


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A small build context: a Dockerfile and a file in a subfolder."""
    root = tmp_path / "context"
    (root / "files").mkdir(parents=True)
    (root / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY files/ /opt/\n")
    (root / "files" / "setup.sh").write_text("#!/bin/sh\necho setup\n")
    return root


# --- digest -----------------------------------------------------------------------------------


def test_digest_is_the_same_in_another_process() -> None:
    # A cache key must survive the process that made it (no per-process hash seed).
    code = "from harness import images; print(images.digest('node', b'\\x00data', 'tag'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert other.stdout.strip() == images.digest("node", b"\x00data", "tag")


def test_digest_changes_with_any_part() -> None:
    before = images.digest("node", b"\x00data", "tag")

    assert images.digest("lb", b"\x00data", "tag") != before
    assert images.digest("node", b"\x00datb", "tag") != before
    assert images.digest("node", b"\x00data", "tag2") != before


def test_digest_is_sixteen_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", images.digest("anything"))


def test_digest_is_order_sensitive() -> None:
    assert images.digest("a", "b") != images.digest("b", "a")


def test_digest_keeps_part_boundaries() -> None:
    assert images.digest("ab", "c") != images.digest("a", "bc")
    assert images.digest("abc") != images.digest("abc", "")


def test_digest_treats_text_as_its_utf8_bytes() -> None:
    assert images.digest("bullseye") == images.digest(b"bullseye")


# --- context_digest ---------------------------------------------------------------------------


def test_context_digest_changes_with_a_files_mode(context: Path) -> None:
    # An entrypoint that loses its x bit must give another image.
    before = images.context_digest(context, "parent:1")
    (context / "files" / "setup.sh").chmod(0o755)

    assert images.context_digest(context, "parent:1") != before


def test_context_digest_ignores_where_the_context_lives(context: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(context, tmp_path / "elsewhere")

    assert images.context_digest(copy, "parent:1") == images.context_digest(context, "parent:1")


def test_context_digest_ignores_rewriting_the_same_content(context: Path) -> None:
    before = images.context_digest(context, "parent:1")
    setup = context / "files" / "setup.sh"
    setup.write_text(setup.read_text())
    os.utime(setup, (1, 1))

    assert images.context_digest(context, "parent:1") == before


def test_context_digest_ignores_empty_folders(context: Path) -> None:
    before = images.context_digest(context, "parent:1")
    (context / "empty").mkdir()

    assert images.context_digest(context, "parent:1") == before


def test_context_digest_changes_with_file_content(context: Path) -> None:
    before = images.context_digest(context, "parent:1")
    (context / "files" / "setup.sh").write_text("#!/bin/sh\necho changed\n")

    assert images.context_digest(context, "parent:1") != before


def test_context_digest_changes_when_a_file_is_added(context: Path) -> None:
    before = images.context_digest(context, "parent:1")
    (context / "files" / "extra.conf").write_text("")

    assert images.context_digest(context, "parent:1") != before


def test_context_digest_changes_when_a_file_is_renamed(context: Path) -> None:
    before = images.context_digest(context, "parent:1")
    (context / "files" / "setup.sh").rename(context / "files" / "init.sh")

    assert images.context_digest(context, "parent:1") != before


def test_context_digest_changes_with_an_extra_input(context: Path) -> None:
    node = images.context_digest(context, "kubespray-harness/base:0000000000000000")
    rebased = images.context_digest(context, "kubespray-harness/base:1111111111111111")

    assert node != rebased


def test_context_digest_changes_when_an_extra_input_is_added(context: Path) -> None:
    assert images.context_digest(context) != images.context_digest(context, "parent:1")


# --- packages ---------------------------------------------------------------------------------


def test_packages_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "packages.txt").write_text(
        "# Debian packages, one per line.\n\nsystemd\n  python3  \n\n# a comment\niproute2\n   \n"
    )

    assert images.packages(tmp_path) == ["systemd", "python3", "iproute2"]


def test_packages_of_the_real_base_image() -> None:
    listed = images.packages(PROJECT_ROOT / "images")

    assert {"systemd", "python3", "iproute2"} <= set(listed)
    assert all(package and not package.startswith("#") and " " not in package for package in listed)


# --- base_tags --------------------------------------------------------------------------------


def test_base_tags_has_one_tag_per_recipe(settings: Settings) -> None:
    tags = images.base_tags(settings)

    assert set(tags) == {"debootstrap", "registry"}
    assert all(re.fullmatch(r"kubespray-harness/base:[0-9a-f]{16}", tag) for tag in tags.values())


def test_base_tags_differ_between_recipes(settings: Settings) -> None:
    tags = images.base_tags(settings)

    assert tags["debootstrap"] != tags["registry"]


def _base_tags_with_appended(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> dict[str, str]:
    """The base tags of a copy of the real images/ folder with `text` appended to base/<name>."""
    copy = shutil.copytree(settings.images_dir, tmp_path / "images")
    with (copy / "base" / name).open("a") as changed:
        changed.write(text)
    monkeypatch.setattr(Settings, "images_dir", property(lambda self: copy))
    return images.base_tags(settings)


def test_registry_base_tag_changes_with_the_base_dockerfile(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = images.base_tags(settings)

    after = _base_tags_with_appended(settings, tmp_path, monkeypatch, "Dockerfile", "# changed\n")

    assert after["registry"] != before["registry"]
    assert after["debootstrap"] == before["debootstrap"]


def test_base_tags_ignore_settings_that_do_not_shape_the_image(settings: Settings, tmp_path: Path) -> None:
    other = dataclasses.replace(
        settings, cache_dir=tmp_path / "other-cache", base_image_source="registry", keep_worktree=True
    )

    assert images.base_tags(other) == images.base_tags(settings)


def test_debootstrap_tag_changes_with_the_package_list(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    before = images.base_tags(settings)
    real = images.packages(settings.images_dir)
    monkeypatch.setattr(images, "packages", lambda images_dir, base=images.NODE_BASE: [*real, "curl"])

    after = images.base_tags(settings)

    assert after["debootstrap"] != before["debootstrap"]


def test_debootstrap_tag_changes_with_the_mirror(settings: Settings) -> None:
    mirrored = dataclasses.replace(settings, debian_mirror="http://deb.example.org/debian")

    assert images.base_tags(mirrored)["debootstrap"] != images.base_tags(settings)["debootstrap"]
    assert images.base_tags(mirrored)["registry"] == images.base_tags(settings)["registry"]


def test_both_base_tags_change_when_packages_txt_changes(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = images.base_tags(settings)

    after = _base_tags_with_appended(settings, tmp_path, monkeypatch, "packages.txt", "curl\n")

    assert after["debootstrap"] != before["debootstrap"]
    assert after["registry"] != before["registry"]


def test_base_tags_of_an_unchanged_copy_of_images_are_the_same(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = images.base_tags(settings)
    copy = shutil.copytree(settings.images_dir, tmp_path / "images")
    monkeypatch.setattr(Settings, "images_dir", property(lambda self: copy))

    assert images.base_tags(settings) == before
